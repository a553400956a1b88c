"""The compare stage's report: measured metric, size and cost of exactly the runs params define.

Every run is checked against the current prepared data (its training summary and its test
metrics must carry the same data fingerprint), so a stale run from an earlier experiment can
neither appear nor hide. Reference rows put each number in context: the majority class for
classification, the untuned base model for generation.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pipeline.layout import TRAIN_SUMMARY
from pipeline.params import LABELLED_FORMATS, Params
from pipeline.prepared import read_prepared
from prefixes.config import greater_is_better

# The headline metric per task format: what the table shows and the plot's y axis.
PRIMARY_METRIC = {"classification": "accuracy", "multiple_choice": "accuracy", "extractive_qa": "f1",
                  "causal_generation": "perplexity", "seq2seq_generation": "perplexity"}
MAJORITY, UNTUNED = "majority", "untuned"
# The scores a run's row carries beside its headline: what each field reports (extractive QA's exact
# match beside its F1; translation's BLEU and chrF, summarisation's ROUGE for every generation task).
SCORES = ("macro_f1", "exact_match", "bleu", "chrf", "rouge_1", "rouge_2", "rouge_l", "rouge_lsum")


@dataclass(frozen=True)
class RunDirs:
    """Where the runs' outputs are: training summaries, test metrics, evaluation details."""

    artifacts: Path
    metrics: Path
    evaluations: Path


class StaleRunError(ValueError):
    """A run the params define is missing or was made on other data."""


def methods_of(params: Params, task: str) -> list[str]:
    """Every method the current params run on a task, in table order."""
    baselines = list(params.baselines.methods) if task in params.baselines.tasks else []
    return [*params.evaluated_methods, *baselines]


def collect_rows(params: Params, run_dirs: RunDirs, data_dir: Path) -> list[dict]:
    """Per task: one row per run the params define, then the task's reference row."""
    rows = []
    for task in params.task_names:
        summary, splits = read_prepared(data_dir / task)
        task_rows = [_run_row(params, task, method, run_dirs, summary["fingerprint"])
                     for method in methods_of(params, task)]
        reference = _reference_row(params.tasks[task].format, task, summary, splits, task_rows)
        rows += task_rows + ([reference] if reference else [])
    return rows


def _read_json(path: Path, run: str) -> dict:
    if not path.is_file():
        raise StaleRunError(f"{run}: {path} is missing; run `dvc repro` to produce it")
    return json.loads(path.read_text())


def _run_row(params: Params, task: str, method: str, run_dirs: RunDirs, fingerprint: str) -> dict:
    run = f"{task}/{method}"
    summary = _read_json(run_dirs.artifacts / task / method / TRAIN_SUMMARY, run)
    test = _read_json(run_dirs.metrics / task / f"{method}.json", run)
    details = _read_json(run_dirs.evaluations / task / f"{method}.json", run)
    for name, found in (("training summary", summary["data_fingerprint"]), ("test metrics", details["data_fingerprint"])):
        if found != fingerprint:
            raise StaleRunError(f"{run}: its {name} was made on other data ({found[:12]}, prepared data is "
                                f"{fingerprint[:12]}); run `dvc repro` to retrain it")
    metric = PRIMARY_METRIC[params.tasks[task].format]
    if metric not in test:
        raise StaleRunError(f"{run}: its test metrics hold no {metric!r}, the headline of a "
                            f"{params.tasks[task].format} task; run `dvc repro` to evaluate it again")
    return {
        "task": task, "method": method, "metric": metric, "value": test[metric],
        **{name: test.get(name) for name in SCORES},
        "trainable_parameters": summary["trainable_parameters"],
        "trainable_percent": 100 * summary["trainable_parameters"] / summary["base_parameters"],
        "artifact_bytes": summary["artifact_bytes"], "wall_time_s": summary["wall_time_s"],
        "peak_memory_mb": summary["peak_memory_mb"], "steps": summary["global_step"],
        "base_perplexity": test.get("base_perplexity"),
    }


def _reference_row(fmt: str, task: str, summary: dict, splits: dict, task_rows: list[dict]) -> dict | None:
    """The majority class or answer position (read off the training split) or the untuned base model,
    on the test split; extractive QA has none."""
    from prefixes import metrics  # numpy: not for the commands' help, which lists this module's users

    if fmt in LABELLED_FORMATS:
        labels = summary["label_names"]
        majority = Counter(example.label for example in splits["train"]).most_common(1)[0][0]
        expected = [labels.index(example.label) for example in splits["test"]]
        predicted = [labels.index(majority)] * len(expected)
        return {"task": task, "method": MAJORITY, "metric": "accuracy", "value": metrics.accuracy(predicted, expected),
                "macro_f1": metrics.macro_f1(predicted, expected, num_labels=len(labels))}
    untuned = [row["base_perplexity"] for row in task_rows if row.get("base_perplexity") is not None]
    if untuned:  # every evaluate run of a generation task measures the same base model
        return {"task": task, "method": UNTUNED, "metric": "perplexity", "value": untuned[0]}
    return None


def at_or_below_reference(row: dict, reference: dict | None) -> bool:
    """Whether a run does no better than the majority class (or the untuned model)."""
    if reference is None or reference.get("value") is None or row["method"] in (MAJORITY, UNTUNED):
        return False
    if not greater_is_better(row["metric"]):
        return row["value"] >= reference["value"]
    if reference.get("macro_f1") is not None and row.get("macro_f1") is not None:
        return row["macro_f1"] <= reference["macro_f1"] + 1e-9 or row["value"] <= reference["value"] + 1e-9
    return row["value"] <= reference["value"]


def metrics_object(rows: list[dict]) -> dict[str, dict[str, float]]:
    """`"<task>/<method>" -> {metric: number}`: what `dvc metrics show` and `dvc exp show` read. Only
    scores: a run's sizes are facts of its method config, in the table and the plot, not metrics."""
    result = {}
    for row in rows:
        values = {row["metric"]: row["value"]} | {name: row[name] for name in SCORES if row.get(name) is not None}
        result[f"{row['task']}/{row['method']}"] = values
    return result
