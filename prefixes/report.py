"""The compare stage's report: measured metric, size and cost of every (task, method) run."""

from __future__ import annotations

import json
from pathlib import Path

# The headline metric per task format: what the table shows and the plot's y axis.
PRIMARY_METRIC = {"classification": "accuracy", "extractive_qa": "loss", "causal_generation": "perplexity",
                  "seq2seq_generation": "perplexity"}
METHOD_ORDER = ("prefix", "p_tuning_v2", "prompt", "lora", "full_finetune")


def collect_rows(metrics_dir: Path, artifacts_dir: Path, task_formats: dict[str, str]) -> list[dict]:
    """One row per run that has both a training summary and test metrics."""
    rows = []
    for summary_path in sorted(artifacts_dir.glob("*/*/train.json")):
        task, method = summary_path.parent.parent.name, summary_path.parent.name
        metrics_path = metrics_dir / task / f"{method}.json"
        if task not in task_formats or not metrics_path.exists():
            continue
        summary, test = json.loads(summary_path.read_text()), json.loads(metrics_path.read_text())
        metric = PRIMARY_METRIC[task_formats[task]]
        rows.append({
            "task": task,
            "method": method,
            "metric": metric,
            "value": test[metric],
            "macro_f1": test.get("macro_f1"),
            "base_perplexity": test.get("base_perplexity"),
            "trainable_parameters": summary["trainable_parameters"],
            "trainable_percent": 100 * summary["trainable_parameters"] / summary["base_parameters"],
            "artifact_bytes": summary["artifact_bytes"],
            "wall_time_s": summary["wall_time_s"],
            "peak_memory_mb": summary["peak_memory_mb"],
            "steps": summary["global_step"],
        })
    rank = {name: index for index, name in enumerate(METHOD_ORDER)}
    return sorted(rows, key=lambda row: (row["task"], rank.get(row["method"], len(rank))))


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return str(count)


def markdown_table(rows: list[dict]) -> str:
    lines = [
        "| task | method | test metric | trainable params | % of base | artifact | train time | peak memory |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        metric = f"{row['metric']} {row['value']:.4g}"
        if row["base_perplexity"] is not None:
            metric += f" (untuned {row['base_perplexity']:.4g})"
        lines.append(
            f"| {row['task']} | {row['method']} | {metric} | {row['trainable_parameters']:,} | "
            f"{row['trainable_percent']:.3f}% | {_size(row['artifact_bytes'])} | {row['wall_time_s']:.0f} s | "
            f"{row['peak_memory_mb'] / 1024:.2f} GB |"
        )
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    """Metric against trainable parameters, one panel per task."""
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on CI machines
    import matplotlib.pyplot as plt

    tasks = sorted({row["task"] for row in rows})
    figure, axes = plt.subplots(1, max(len(tasks), 1), figsize=(4.5 * max(len(tasks), 1), 3.6), squeeze=False)
    for axis, task in zip(axes[0], tasks):
        for row in (r for r in rows if r["task"] == task):
            axis.scatter(row["trainable_parameters"], row["value"], s=40)
            axis.annotate(row["method"], (row["trainable_parameters"], row["value"]), fontsize=8,
                          textcoords="offset points", xytext=(4, 4))
        axis.set_xscale("log")
        axis.set_title(task)
        axis.set_xlabel("trainable parameters")
        axis.set_ylabel(next(r["metric"] for r in rows if r["task"] == task))
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def write_report(rows: list[dict], output_dir: Path) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "compare.json").write_text(json.dumps(rows, indent=2) + "\n")
    (output_dir / "compare.md").write_text("# Measured comparison\n\n" + markdown_table(rows))
    plot(rows, output_dir / "compare.png")
