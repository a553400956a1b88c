"""`dvc repro` end to end in a temporary copy of the repository, on the real embedded models.

A tiny params override keeps every run to a couple of optimizer steps; the stages, DVC wiring,
registry publishing and the reports are all real.
"""

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

BIN = Path(sys.executable).parent


def _run(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A fresh clone of this repository with the tiny params, after `dvc repro`."""
    root = fresh_clone(tmp_path_factory.mktemp("project"))
    shutil.copy(REPO / "tests" / "e2e" / "tiny_params.yaml", root / "params.yaml")
    for path in ("registry", "dvc.lock"):  # start from nothing, as a fresh project would
        target = root / path
        shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
    _run(["git", *GIT_IDENTITY, "add", "-A"], root)
    _run(["git", *GIT_IDENTITY, "commit", "-qm", "tiny params"], root)
    # --quiet, as `dev.sh quickstart` runs it: what remains is the stages' own output.
    repro = _run(["dvc", "repro", "--quiet"], root)
    (root.parent / "repro.log").write_text(repro.stdout + repro.stderr)  # beside the project, not in it
    return root


def test_repro_produces_every_output(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    for task in params["task_names"]:
        counts = json.loads((project / "data" / "prepared" / task / "data.json").read_text())["counts"]
        test_size = counts["test"]
        if task == "bbc_news":  # sizes where a stale end-of-loader state would cut batches short
            assert counts["train"] % params["training"]["batch_size"], counts
            assert test_size % params["training"]["eval_batch_size"], counts
        runs = params["evaluated_methods"] + (params["baselines"]["methods"] if task in params["baselines"]["tasks"] else [])
        for method in runs:
            metrics = json.loads((project / "metrics" / task / f"{method}.json").read_text())
            assert metrics and all(isinstance(v, (int, float)) for v in metrics.values())  # numbers only
            details = json.loads((project / "evaluations" / task / f"{method}.json").read_text())
            assert details["examples"] == test_size  # every evaluation path covers the whole test split
        for method in params["evaluated_methods"]:
            assert (project / "artifacts" / task / method / "best" / "prefix.safetensors").exists()
            assert (project / "artifacts" / task / method / "checkpoint" / "progress.json").exists()
    assert (project / "metrics" / "bbc_news" / "lora.json").exists()
    report = json.loads((project / "reports" / "compare.json").read_text())
    assert {"bbc_news/lora", "chitchat/prompt", "bbc_news/majority", "chitchat/untuned"} <= set(report)
    assert all(isinstance(value, (int, float)) for row in report.values() for value in row.values())
    assert not any("trainable_parameters" in row for row in report.values())  # scores only, no sizes
    assert (project / "reports" / "compare.png").stat().st_size > 1000
    assert (project / "bundles" / "minilm-prefix" / "manifest.json").exists()


def test_the_quickstart_prints_at_most_60_lines_of_ours(project):
    """A start and an end line per stage, actionable warnings, then the compare table and two closing lines
    (`dev.sh quickstart`): no load reports, progress bars, deprecation warnings or repeated truncation lines."""
    lines = (project.parent / "repro.log").read_text().splitlines()
    table = (project / "reports" / "compare.md").read_text().splitlines()
    assert len(lines) + len(table) + 2 <= 60, "\n".join(lines)
    noise = ("LOAD REPORT", "Loading weights", "deprecated", "FutureWarning", "it/s]", "\x1b[")
    assert not [line for line in lines if any(mark in line for mark in noise)]
    assert sum("done in" in line for line in lines) >= 10


def test_a_task_sets_its_own_prefix_length(project):
    def prefix_length(task: str) -> int:
        config = json.loads((project / "artifacts" / task / "prefix" / "best" / "prefix_config.json").read_text())
        return config["method_config"]["prefix_length"]

    assert (prefix_length("bbc_news"), prefix_length("chitchat")) == (4, 6)  # task_method_config.chitchat


def test_every_artifact_card_names_its_task_data_and_scores(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    runs = [(task, method) for task in params["task_names"] for method in params["evaluated_methods"]]
    runs += [(task, method) for task in params["baselines"]["tasks"] for method in params["baselines"]["methods"]]
    for task, method in runs:
        summary_path = project / "artifacts" / task / method / "train.json"
        summary = json.loads(summary_path.read_text())
        card = (summary_path.parent / "best" / "README.md").read_text()
        assert f"- **task**: {summary['task']}" in card and summary["data_fingerprint"] in card, summary_path
        assert "- **eval loss**:" in card, summary_path


def test_second_repro_does_nothing_and_status_is_clean(project):
    assert "up to date" in _run(["dvc", "status"], project).stdout
    assert "Data and pipelines are up to date" in _run(["dvc", "repro"], project).stdout
    assert _run(["dvc", "status", "-q"], project).returncode == 0
    # Bytecode caches appear inside code folders that stages depend on; they are not code changes.
    cache = project / "prefixes" / "methods" / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "stray.cpython-311.pyc").write_bytes(b"\x00" * 16)
    assert _run(["dvc", "status", "-q"], project).returncode == 0


def test_metrics_show_lists_every_task_and_method_as_numbers(project):
    shown = json.loads(_run(["dvc", "metrics", "show", "--json"], project).stdout)
    metrics = shown[""]["data"]["reports/compare.json"]["data"]
    for task in ("bbc_news", "chitchat"):
        for method in ("prefix", "p_tuning_v2", "prompt"):
            assert metrics[f"{task}/{method}"]
    # compare.json, and each train stage's best eval scores as DVCLive wrote them: numbers only
    files = shown[""]["data"]
    runs = {f"artifacts/{task}/{method}/dvclive/metrics.json" for task in ("bbc_news", "chitchat")
            for method in ("prefix", "p_tuning_v2", "prompt")}
    assert runs <= set(files) and set(files) - runs - {"reports/compare.json"} <= {"artifacts/bbc_news/lora/dvclive/metrics.json"}
    best = files["artifacts/bbc_news/prefix/dvclive/metrics.json"]["data"]["best"]
    assert isinstance(best["accuracy"], float) and isinstance(best["step"], int)
    listed = _run(["dvc", "metrics", "diff", "HEAD", "--json"], project).stdout
    assert "fingerprint" not in listed and "seed" not in listed


def test_registry_holds_the_published_members_with_lineage(project):
    listed = json.loads(_run(["prefixes", "registry", "list", "--registry", "registry", "--json"], project).stdout)
    assert {(row["task"], row["method"]) for row in listed} >= {("bbc_news", "prefix"), ("chitchat", "prompt")}
    shown = _run(["prefixes", "registry", "show", "bbc_news", "--method", "prefix", "--version", "latest",
                  "--registry", "registry"], project).stdout
    assert "commit" in shown and "dvc.lock" in shown
    assert _run(["prefixes", "registry", "verify", "--registry", "registry"], project).returncode == 0


def test_bad_params_stop_before_any_work(project, tmp_path):
    broken = yaml.safe_load((project / "params.yaml").read_text())
    broken["training"]["learning_rate"] = -1
    broken["training"]["learning_rat"] = 0.1
    broken["task_names"].append("imdb")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(broken))
    result = _run(["prefixes", "check-params", "--params", str(tmp_path / "params.yaml")], project, check=False)
    assert result.returncode != 0
    for key in ("training.learning_rate", "training.learning_rat", "imdb"):
        assert key in result.stderr
    before = (project / "data" / "prepared" / "bbc_news" / "train.jsonl").read_bytes()
    stage = _run(["prefixes", "prepare", "--params", str(tmp_path / "params.yaml"), "--task", "bbc_news",
                  "--out", "data/prepared/bbc_news"], project, check=False)
    assert stage.returncode != 0 and "learning_rate" in stage.stderr
    assert (project / "data" / "prepared" / "bbc_news" / "train.jsonl").read_bytes() == before


def test_forced_rerun_reproduces_the_same_metrics(project):
    stage = "train-prefix@bbc_news-p_tuning_v2"
    summary_path = project / "artifacts" / "bbc_news" / "p_tuning_v2" / "train.json"
    metrics_path = project / "metrics" / "bbc_news" / "p_tuning_v2.json"
    before_summary, before_metrics = json.loads(summary_path.read_text()), metrics_path.read_text()
    _run(["dvc", "repro", "-f", "-s", stage], project)
    _run(["dvc", "repro", "-s", "evaluate@bbc_news-p_tuning_v2"], project)
    after_summary = json.loads(summary_path.read_text())
    timing = ("wall_time_s", "peak_memory_mb")
    assert {k: v for k, v in after_summary.items() if k not in timing} == {
        k: v for k, v in before_summary.items() if k not in timing
    }
    assert metrics_path.read_text() == before_metrics
    # The rerun's wall time differs, so the compare report (which shows it) is rightly stale.
    _run(["dvc", "repro"], project)
    assert _run(["dvc", "status", "-q"], project).returncode == 0


def test_compare_covers_exactly_the_runs_the_params_define(project, tmp_path):
    narrowed = yaml.safe_load((project / "params.yaml").read_text())
    narrowed["prefix_methods"] = ["prefix"]
    narrowed["evaluated_methods"] = ["prefix", "prompt"]
    narrowed["task_names"] = ["bbc_news"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(narrowed))
    _run(["prefixes", "compare", "--params", str(tmp_path / "params.yaml"), "--out", str(tmp_path / "reports")], project)
    report = json.loads((tmp_path / "reports" / "compare.json").read_text())
    assert set(report) == {"bbc_news/prefix", "bbc_news/prompt", "bbc_news/lora", "bbc_news/majority"}
    assert "p_tuning_v2" not in (tmp_path / "reports" / "compare.md").read_text()


def _tree_digest(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def test_publish_files_every_run_and_bundles_serve_from_the_registry(project):
    published = json.loads((project / "reports" / "published.json").read_text())
    assert set(published) == {f"{t}/{m}" for t in ("bbc_news", "chitchat") for m in ("prefix", "p_tuning_v2", "prompt")}
    manifest = json.loads((project / "bundles" / "minilm-prefix" / "manifest.json").read_text())
    assert all(member["artifact"]["registry"] == "../../registry" for member in manifest["members"])
    shown = json.loads(_run(["prefixes", "registry", "show", "bbc_news", "--method", "prefix", "--version",
                             "candidate", "--registry", "registry", "--json"], project).stdout)
    assert shown["version"] == published["bbc_news/prefix"]["version"]
    card = (project / "registry" / "bbc_news" / "prefix" / shown["version"] / "README.md").read_text()
    test = json.loads((project / "metrics" / "bbc_news" / "prefix.json").read_text())
    assert "## Test split" in card and f"- **accuracy**: {test['accuracy']:.4g}" in card
    assert "## Test split" not in (project / "artifacts" / "bbc_news" / "prefix" / "best" / "README.md").read_text()


def test_the_ci_workflow_script_gates_on_status_and_diffs_metrics(project, tmp_path):
    summary = tmp_path / "summary.md"
    env = {"SUMMARY": str(summary)}
    result = subprocess.run(["bash", str(REPO / ".ci" / "pipeline.sh"), "repro", "HEAD"], cwd=project, capture_output=True,
                            text=True, env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **env})
    assert result.returncode == 0, result.stderr[-2000:]
    text = summary.read_text()
    assert "## dvc metrics diff (HEAD)" in text and "## dvc params diff (HEAD)" in text


def test_an_experiment_changes_the_trainer_and_leaves_the_registry_untouched(project):
    before = _tree_digest(project / "registry")
    _run(["dvc", "exp", "run", "-S", "training.max_steps=3"], project)
    summary = json.loads((project / "artifacts" / "bbc_news" / "prefix" / "train.json").read_text())
    assert summary["global_step"] == 3  # the -S override reached the trainer
    assert _tree_digest(project / "registry") == before
    # no run published; the record differs from what dvc.lock holds, so the next `dvc repro` publishes
    assert list(json.loads((project / "reports" / "published.json").read_text())) == ["_unpublished"]


def test_a_train_stage_under_two_processes_matches_one_process(project):
    """`launch.train` chooses the launcher; 2 CPU processes x batch 2 see the batches of 1 process x batch 4.

    Dropout masks are drawn per process, so losses agree to dropout noise here, not bit for bit;
    tests/test_distributed.py checks exact agreement on a model without dropout.
    """
    run_dir = project / "artifacts" / "bbc_news" / "p_tuning_v2"
    single = json.loads((run_dir / "train.json").read_text())
    params = yaml.safe_load((project / "params.yaml").read_text())
    batch_size = params["training"]["batch_size"]
    # accelerate starts several CPU processes only through mpirun; torch's launcher sets up the same
    # gloo process group (accelerate/README.md).
    launcher = ("ACCELERATE_USE_CPU=true OMP_NUM_THREADS=1 python -m torch.distributed.run "
                "--nproc_per_node 2 --master_port 29533 -m pipeline")
    _run(["dvc", "exp", "run", "-S", f"launch.train='{launcher}'", "-S", f"training.batch_size={batch_size // 2}",
          "train-prefix@bbc_news-p_tuning_v2"], project)
    double = json.loads((run_dir / "train.json").read_text())
    assert double["global_step"] == single["global_step"]
    assert double["best_eval"]["eval_examples"] == single["best_eval"]["eval_examples"]
    assert double["train_loss"] == pytest.approx(single["train_loss"], rel=0.05)
    assert double["best_eval"]["eval_loss"] == pytest.approx(single["best_eval"]["eval_loss"], rel=0.05)
