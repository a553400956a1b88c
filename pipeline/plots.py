"""Per-task training curves: every method's training loss and eval metric in one figure.

Each train stage's DVCLive files are DVC plots of that run alone (`dvc plots show`, `dvc plots diff`);
this figure sets a task's runs side by side, as a plain PNG that works offline.
"""

from __future__ import annotations

import csv
from pathlib import Path

from pipeline.layout import DVCLIVE_DIR

# The eval metric drawn per task format (lower is better for both generation metrics).
EVAL_METRIC = {"classification": "eval_accuracy", "multiple_choice": "eval_accuracy", "extractive_qa": "eval_f1",
               "causal_generation": "eval_loss",
               "seq2seq_generation": "eval_loss"}


def _curve(run: Path, kind: str, metric: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one metric from DVCLive's file in a run's folder; empty when the run logged none."""
    path = run / DVCLIVE_DIR / "plots" / "metrics" / kind / f"{metric}.tsv"
    if not path.is_file():
        return [], []
    with path.open() as file:
        rows = list(csv.DictReader(file, delimiter="\t"))
    return [int(row["step"]) for row in rows], [float(row[metric]) for row in rows]


def draw_task_curves(task: str, task_format: str, methods: list[str], artifacts_dir: Path, path: Path) -> None:
    """Training loss (left) and the eval metric (right) against the optimizer step, one line per method."""
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on CI machines
    import matplotlib.pyplot as plt

    metric = EVAL_METRIC[task_format]
    figure, (loss_axis, eval_axis) = plt.subplots(1, 2, figsize=(10, 3.8))
    for method in methods:
        run = artifacts_dir / task / method
        loss_axis.plot(*_curve(run, "train", "loss"), label=method, linewidth=1.4)
        eval_axis.plot(*_curve(run, "eval", metric.removeprefix("eval_")), marker="o", label=method, linewidth=1.4)
    for axis, ylabel in ((loss_axis, "training loss"), (eval_axis, metric.removeprefix("eval_") + " (eval split)")):
        axis.set_xlabel("optimizer step")
        axis.set_ylabel(ylabel)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(task)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
