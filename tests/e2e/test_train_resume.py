"""A train stage killed (SIGKILL) after a checkpoint and rerun ends exactly where an uninterrupted run does.

The stage command runs in a temporary project on the tiny params (with a mid-run checkpoint), as
`dvc repro` would run it; its checkpoint out is `persist: true`, so DVC leaves it for the rerun.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fresh_clone import REPO

pytestmark = pytest.mark.e2e

# The stage command, killed by SIGKILL right after step 3 is logged: after the step-2 checkpoint.
KILLED_AT_STEP_3 = """
import os, signal, sys
from prefixes.train import Trainer
log_step = Trainer._log_step
def log_then_die(self, run):
    log_step(self, run)
    if run.progress["step"] == 3:
        os.kill(os.getpid(), signal.SIGKILL)
Trainer._log_step = log_then_die
from pipeline.cli import main
sys.argv[0] = "prefixes"
main()
"""
TRAIN = ["train-prefix", "--params", "params.yaml", "--task", "bbc_news", "--method", "p_tuning_v2", "--data", "prepared"]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True)


def _ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _outputs(run: Path) -> dict:
    summary = json.loads((run / "train.json").read_text())
    for timing in ("wall_time_s", "peak_memory_mb"):
        summary.pop(timing)
    # The run's curves and best scores, as DVCLive wrote them (the resumed run replays its first steps from the
    # checkpoint, so metrics.json may list a section's keys in another order: compared as JSON).
    tracked = {str(path.relative_to(run)): json.loads(path.read_text()) if path.suffix == ".json" else path.read_bytes()
               for path in sorted((run / "dvclive").rglob("*")) if path.is_file()}
    return {"summary": summary, **tracked, **{path.name: path.read_bytes() for path in sorted((run / "best").iterdir())}}


def test_a_killed_train_stage_resumes_to_the_uninterrupted_result(tmp_path):
    params = yaml.safe_load((REPO / "tests" / "e2e" / "tiny_params.yaml").read_text())
    params["training"].update(max_steps=4, checkpoint_every=2, eval_every=1)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    _ok(_run(["-m", "pipeline", "prepare", "--params", "params.yaml", "--task", "bbc_news", "--out", "prepared"], tmp_path))
    _ok(_run(["-m", "pipeline", *TRAIN, "--out", "straight"], tmp_path))

    killed = _run(["-c", KILLED_AT_STEP_3, *TRAIN, "--out", "run"], tmp_path)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert json.loads((tmp_path / "run" / "checkpoint" / "progress.json").read_text())["step"] == 2
    for output in ("best", "train.json", "dvclive"):  # what DVC deletes before a rerun
        path = tmp_path / "run" / output
        if path.is_file():
            path.unlink()
        elif path.is_dir() and output == "dvclive":
            shutil.rmtree(path)
    rerun = _ok(_run(["-m", "pipeline", *TRAIN, "--out", "run"], tmp_path))
    assert "Resuming from the checkpoint" in rerun.stderr
    assert _outputs(tmp_path / "run") == _outputs(tmp_path / "straight")

    params["methods"]["p_tuning_v2"]["training"] = {"learning_rate": 0.5}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    changed = _ok(_run(["-m", "pipeline", *TRAIN, "--out", "run"], tmp_path))
    assert "Starting fresh: the checkpoint in run/checkpoint belongs to another run (different training)" in changed.stderr


def test_a_damaged_checkpoint_stops_the_stage_in_one_line_until_started_fresh(tmp_path):
    """Issue 28 item 10: a truncated optimizer file or `progress.json` of `[]` ended every rerun in a
    traceback with no hint, and `step: 999` finished with exit 0."""
    params = yaml.safe_load((REPO / "tests" / "e2e" / "tiny_params.yaml").read_text())
    params["training"].update(max_steps=2, checkpoint_every=2)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    _ok(_run(["-m", "pipeline", "prepare", "--params", "params.yaml", "--task", "bbc_news", "--out", "prepared"], tmp_path))
    _ok(_run(["-m", "pipeline", *TRAIN, "--out", "run"], tmp_path))
    checkpoint = tmp_path / "run" / "checkpoint"
    intact = {path.relative_to(checkpoint): path.read_bytes() for path in checkpoint.rglob("*") if path.is_file()}
    optimizer = intact[Path("optimizer.safetensors")]
    hint = ("; start fresh with `prefixes train-prefix --task bbc_news --method p_tuning_v2 ... --fresh`, "
            "or delete run/checkpoint")
    for file, content, problem in [
        ("optimizer.safetensors", optimizer[: len(optimizer) // 2], "SafetensorError: Error while deserializing header"),
        ("progress.json", b"[]", "holds [], not the loop's position (a JSON object)"),
        ("progress.json", json.dumps({**json.loads(intact[Path("progress.json")]), "step": 999}).encode(),
         "step 999 is beyond this run's 2 steps"),
    ]:
        for relative, data in intact.items():
            (checkpoint / relative).write_bytes(data)
        (checkpoint / file).write_bytes(content)
        rerun = _run(["-m", "pipeline", *TRAIN, "--out", "run"], tmp_path)
        assert rerun.returncode == 1, rerun.stderr[-3000:]
        last = rerun.stderr.strip().splitlines()[-1]
        assert last.startswith(f"Error: damaged checkpoint file run/checkpoint/{file}: ") and last.endswith(hint), last
        assert problem in last and "Traceback" not in rerun.stderr
    fresh = _ok(_run(["-m", "pipeline", *TRAIN, "--out", "run", "--fresh"], tmp_path))
    assert "Starting fresh (--fresh)" in fresh.stderr
    assert json.loads((checkpoint / "progress.json").read_text())["step"] == 2
