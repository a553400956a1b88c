"""Recipe sweeps without DVC running: the queued commands, the checks before queueing, and the
report's reading of `dvc exp show` (finished experiments only) and choice of the best variant."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import click
import pytest
import yaml

from pipeline import sweep as sweep_module
from pipeline.sweep import Sweep, finished_experiments, load_sweep, override_literal, queue_commands, report_rows

ROOT = Path(__file__).parents[2]
SWEEP = {"runs": ["bbc_news/prefix", "bbc_news/lora"], "select": "eval_macro_f1", "variants": {
    "plain": {}, "weighted": {"task_training.bbc_news.class_weighting": "balanced", "training.num_epochs": 3}}}


def _sweeps_file(tmp_path: Path, sweep: dict) -> Path:
    path = tmp_path / "sweeps.yaml"
    path.write_text(yaml.safe_dump({"trial": sweep}, sort_keys=False))
    return path


def test_each_variant_and_run_is_one_queued_experiment_with_quoted_overrides(tmp_path):
    sweep = load_sweep(_sweeps_file(tmp_path, SWEEP), "trial", ROOT / "params.yaml")
    commands = queue_commands("trial", sweep)
    assert [command[6] for command in commands] == [
        "trial-plain-bbc_news-prefix", "trial-plain-bbc_news-lora", "trial-weighted-bbc_news-prefix",
        "trial-weighted-bbc_news-lora"]
    assert commands[2] == ["dvc", "exp", "run", "--queue", "--force", "-n", "trial-weighted-bbc_news-prefix",
                           "-S", "++task_training.bbc_news.class_weighting='balanced'",
                           "-S", "++training.num_epochs=3", "train-prefix@bbc_news-prefix"]
    assert commands[1][-1] == "train-baseline@bbc_news-lora"


def test_override_literals_keep_their_type_in_hydra_grammar():
    assert [override_literal(v) for v in (True, 3, 0.001, "a,b", "it's")] == ["true", "3", "0.001", "'a,b'", "'it\\'s'"]


@pytest.mark.parametrize(("change", "message"), [
    ({"runs": ["bbc_news/nope"]}, r"runs \['bbc_news/nope'\] are not runs params.yaml defines"),
    ({"variants": {"a-b": {}}}, r"names \['a-b'\] may hold only letters, digits and _"),
    ({"variants": {"typo": {"training.learnin_rate": 0.1}}}, r"variant 'typo': its overrides .* give invalid params"),
    ({"select": None}, r"sweep 'trial': 1 validation error for Sweep\nselect"),
])
def test_a_bad_sweep_is_refused_before_anything_is_queued(tmp_path, change, message):
    with pytest.raises(click.ClickException, match=message):
        load_sweep(_sweeps_file(tmp_path, {**SWEEP, **change}), "trial", ROOT / "params.yaml")


def test_only_finished_experiments_are_read(monkeypatch):
    shown = [{"rev": "workspace", "experiments": None}, {"rev": "abc", "experiments": [
        {"executor": {"state": "success"}, "revs": [{"rev": "r1", "name": "trial-plain-bbc_news-prefix"}]},
        {"executor": {"state": "queued"}, "revs": [{"rev": "stash", "name": "trial-weighted-bbc_news-prefix"}]},
        {"executor": None, "revs": [{"rev": "r3", "name": "trial-plain-bbc_news-lora"}]},
    ]}]
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, json.dumps(shown), ""))
    assert finished_experiments() == ({"trial-plain-bbc_news-prefix": "r1", "trial-plain-bbc_news-lora": "r3"},
                                      ["trial-weighted-bbc_news-prefix (queued)"])


def test_the_report_marks_each_runs_best_variant_by_the_select_score(monkeypatch):
    scores = {("r1", "bbc_news/prefix"): 0.40, ("r2", "bbc_news/prefix"): 0.55, ("r3", "bbc_news/lora"): 0.70}

    def summary(revision, artifacts_dir, run):
        return {"global_step": 60, "best_step": 45, "best_eval": {
            "eval_macro_f1": scores[(revision, run)], "eval_loss": 1.0, "eval_examples": 98}}

    monkeypatch.setattr(sweep_module, "run_summary", summary)
    finished = {"trial-plain-bbc_news-prefix": "r1", "trial-weighted-bbc_news-prefix": "r2",
                "trial-plain-bbc_news-lora": "r3"}
    rows = report_rows("trial", Sweep.model_validate(SWEEP), finished, "artifacts")
    assert [(row["run"], row["variant"], row.get("chosen", False)) for row in rows] == [
        ("bbc_news/prefix", "plain", False), ("bbc_news/prefix", "weighted", True), ("bbc_news/lora", "plain", True)]
    assert "eval_examples" not in rows[0]
    lossy = Sweep.model_validate({**SWEEP, "select": "eval_bleu"})
    with pytest.raises(click.ClickException, match=r"select='eval_bleu' is not among bbc_news/prefix's eval scores"):
        report_rows("trial", lossy, finished, "artifacts")


# Interpolations DVC would resolve, backslashes hydra would halve or double, quotes and grammar characters.
HOSTILE_STRINGS = ["${oc.env:HOME}", "${seed}", "a${x}b", "\\${x}", "\\\\${x}", "$${x}", "${", "a\\b", "a\\\\b",
                   "C:\\data\\", "end\\\\", "it's", "\\'", "'\\'", '"q"', "x,y", "[1]", "{a: 1}", "null", "=",
                   "tab\there", "two\nlines", "naïve ✓", ""]


@pytest.mark.parametrize("value", HOSTILE_STRINGS)
def test_sweep_strings_reach_dvc_literally(tmp_path, value):
    """Issue 28 item 7: `${oc.env:VAR}` landed expanded in the experiment's params; backslashes doubled."""
    from dvc.utils.hydra import apply_overrides
    from dvc.utils.serialize import parse_yaml

    params = tmp_path / "params.yaml"
    params.write_text("seed: 1\nkey: old\n")
    apply_overrides(params, [f"++key={override_literal(value)}"])  # what `dvc exp run -S` does
    assert parse_yaml(params.read_text(), str(params))["key"] == value
