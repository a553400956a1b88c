"""Per-task training curves: every method's training loss and eval metric in one figure.

DVC's own plots would draw one chart per file (one per run) and load Vega from the network; these
are plain PNGs, which `dvc plots show` embeds as images, so the page works offline.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.layout import EVAL_LOG, TRAIN_LOG

# The eval metric drawn per task format (lower is better for both generation metrics).
EVAL_METRIC = {"classification": "eval_accuracy", "multiple_choice": "eval_accuracy", "extractive_qa": "eval_loss",
               "causal_generation": "eval_loss",
               "seq2seq_generation": "eval_loss"}


def _log(path: Path) -> list[dict]:
    return json.loads(path.read_text()) if path.is_file() else []


def draw_task_curves(task: str, task_format: str, methods: list[str], artifacts_dir: Path, path: Path) -> None:
    """Training loss (left) and the eval metric (right) against the optimizer step, one line per method."""
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on CI machines
    import matplotlib.pyplot as plt

    metric = EVAL_METRIC[task_format]
    figure, (loss_axis, eval_axis) = plt.subplots(1, 2, figsize=(10, 3.8))
    for method in methods:
        run = artifacts_dir / task / method
        train, evaluation = _log(run / TRAIN_LOG), _log(run / EVAL_LOG)
        if train:
            loss_axis.plot([r["step"] for r in train], [r["loss"] for r in train], label=method, linewidth=1.4)
        if evaluation:
            eval_axis.plot([r["step"] for r in evaluation], [r[metric] for r in evaluation], marker="o",
                           label=method, linewidth=1.4)
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
