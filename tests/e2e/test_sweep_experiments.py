"""A recipe sweep end to end: `prefixes sweep queue` files DVC experiments, `dvc exp run --run-all`
runs them, `prefixes sweep report` reads each one's eval-split scores back from its own commit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fresh_clone import GIT_IDENTITY, REPO, fresh_clone

pytestmark = pytest.mark.e2e

SWEEP = {"runs": ["bbc_news/prompt"], "select": "eval_loss", "variants": {
    "low_lr": {"methods.prompt.training.learning_rate": 0.001},
    "high_lr": {"methods.prompt.training.learning_rate": 0.3},
}}


def _run(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def test_a_sweep_runs_each_variant_as_an_experiment_and_reports_eval_scores(tmp_path):
    root = fresh_clone(tmp_path / "project")
    shutil.copy(REPO / "tests" / "e2e" / "tiny_params.yaml", root / "params.yaml")
    (root / "sweeps.yaml").write_text(yaml.safe_dump({"tiny": SWEEP}, sort_keys=False))
    _run(["git", *GIT_IDENTITY, "commit", "-qam", "tiny sweep"], root)
    params_before = (root / "params.yaml").read_bytes()

    _run(["prefixes", "sweep", "queue", "tiny"], root)
    _run(["dvc", "exp", "run", "--run-all", "--jobs", "1"], root)
    _run(["prefixes", "sweep", "report", "tiny"], root)

    rows = json.loads((root / "reports" / "sweeps" / "tiny.json").read_text())
    assert [(row["run"], row["variant"]) for row in rows] == [("bbc_news/prompt", "low_lr"),
                                                             ("bbc_news/prompt", "high_lr")]
    losses = {row["variant"]: row["eval_loss"] for row in rows}
    assert losses["low_lr"] != losses["high_lr"]  # the override reached the trainer
    [chosen] = [row for row in rows if row.get("chosen")]
    assert chosen["eval_loss"] == min(losses.values())
    assert "| bbc_news/prompt | low_lr |" in (root / "reports" / "sweeps" / "tiny.md").read_text()
    # Experiments ran in their own folders: the workspace has only the new report.
    assert (root / "params.yaml").read_bytes() == params_before
    assert _run(["git", "status", "--porcelain", "--untracked-files=all"], root).split() == [
        "??", "reports/sweeps/tiny.json", "??", "reports/sweeps/tiny.md"]
