"""The compare stage: one table, a DVC-readable metrics object and a plot over the runs params define."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pipeline.common import load_or_exit, params_option
from pipeline.plots import draw_task_curves
from pipeline.report import (
    MAJORITY,
    UNTUNED,
    RunDirs,
    StaleRunError,
    at_or_below_reference,
    collect_rows,
    methods_of,
    metrics_object,
)
from prefixes.config import greater_is_better

PLOTS_DIR = "plots"
PLOT_COLUMNS = 3

REPORT_FILES = ("compare.md", "compare.json", "compare.png")
FULL_MODEL_PERCENT = 99.9
"""A run training at least this share of the base model's parameters is the full fine-tuning reference."""
SECOND_METRICS = ("macro_f1", "bleu", "exact_match")
"""The table's second column: classification's macro-F1, generation's BLEU, extractive QA's exact match."""


@click.command("compare")
@params_option
@click.option("--metrics-dir", default="metrics", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Per-run test metrics (the evaluate stage's outputs).")
@click.option("--artifacts-dir", default="artifacts", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Per-run folders (the train stages' outputs).")
@click.option("--evaluations-dir", default="evaluations", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Per-run evaluation details (the evaluate stage's outputs).")
@click.option("--data-dir", default="data/prepared", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Prepared tasks (the prepare stage's outputs).")
@click.option("--out", "output_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the comparison report (Markdown, JSON, plot).")
def compare(params_path: str, metrics_dir: Path, artifacts_dir: Path, evaluations_dir: Path, data_dir: Path,
            output_dir: Path) -> None:
    """Measured metric, trainable parameters, artifact size, wall time and peak memory per run."""
    params = load_or_exit(params_path)
    try:
        rows = collect_rows(params, RunDirs(artifacts_dir, metrics_dir, evaluations_dir), data_dir)
    except StaleRunError as error:
        raise click.ClickException(str(error)) from None
    write_report(rows, output_dir)
    for task in params.task_names:
        draw_task_curves(task, params.tasks[task].format, methods_of(params, task), artifacts_dir,
                         output_dir / PLOTS_DIR / f"{task}.png")
    # One line: the table is in the report (`cat reports/compare.md`, `dvc metrics show`).
    click.echo(f"compare: {len(rows)} rows of {len(params.task_names)} tasks -> {output_dir / 'compare.md'}", err=True)


def _size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return str(count)


def _references(rows: list[dict]) -> dict[str, dict]:
    return {row["task"]: row for row in rows if row["method"] in (MAJORITY, UNTUNED)}


def _full_model_runs(rows: list[dict]) -> dict[str, dict]:
    """Per task, the run that trained every weight of the base model (full fine-tuning), if any."""
    return {row["task"]: row for row in rows if row.get("trainable_percent", 0.0) >= FULL_MODEL_PERCENT}


def fraction_of_full(row: dict, full: dict | None) -> float | None:
    """The headline metric as a fraction of the full-model run's (1.0 = as good; for perplexity the
    inverse ratio, so above 1.0 is better in both directions)."""
    if full is None or row is full or "trainable_percent" not in row:
        return None
    return full["value"] / row["value"] if not greater_is_better(row["metric"]) else row["value"] / full["value"]


def markdown_table(rows: list[dict]) -> str:
    """Runs and reference rows; a run no better than its reference is flagged."""
    references, full_runs = _references(rows), _full_model_runs(rows)
    lines = [
        "| task | method | test metric | of full FT | macro-F1 / BLEU / EM | trainable params | % of base | artifact | "
        "train time | peak memory |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        metric = f"{row['metric']} {row['value']:.4g}"
        if at_or_below_reference(row, references.get(row["task"])):
            metric += f" (**at or below {references[row['task']]['method']}**)"
        second = next((row[name] for name in SECOND_METRICS if row.get(name) is not None), None)
        second_text = f"{second:.4g}" if second is not None else ""
        if row["method"] in (MAJORITY, UNTUNED):
            lines.append(f"| {row['task']} | *{row['method']}* | {metric} | | {second_text} | 0 | 0% | | | |")
            continue
        fraction = fraction_of_full(row, full_runs.get(row["task"]))
        fraction_text = f"{fraction:.1%}" if fraction is not None else ""
        lines.append(
            f"| {row['task']} | {row['method']} | {metric} | {fraction_text} | {second_text} | {row['trainable_parameters']:,} | "
            f"{row['trainable_percent']:.3f}% | {_size(row['artifact_bytes'])} | {row['wall_time_s']:.0f} s | "
            f"{row['peak_memory_mb'] / 1024:.2f} GB |"
        )
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    """Per task: the metric against trainable parameters, with the reference drawn as a line."""
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on CI machines
    import matplotlib.pyplot as plt

    references = _references(rows)
    tasks = list(dict.fromkeys(row["task"] for row in rows))
    columns = min(len(tasks), PLOT_COLUMNS)  # a grid, so many tasks stay readable at page width
    grid_rows = -(-len(tasks) // columns)
    figure, axes = plt.subplots(grid_rows, columns, figsize=(5 * columns, 4 * grid_rows), squeeze=False)
    for axis in axes.flat[len(tasks):]:
        axis.set_visible(False)
    for axis, task in zip(axes.flat, tasks):
        runs = [r for r in rows if r["task"] == task and r["method"] not in (MAJORITY, UNTUNED)]
        for row in runs:
            axis.scatter(row["trainable_parameters"], row["value"], s=50)
            axis.annotate(row["method"], (row["trainable_parameters"], row["value"]), fontsize=9,
                          textcoords="offset points", xytext=(5, 4))
        if task in references:
            axis.axhline(references[task]["value"], color="grey", linestyle="--", linewidth=1,
                         label=references[task]["method"])
            axis.legend(loc="best", fontsize=9)
        axis.set_xscale("log")
        axis.set_title(task)
        axis.set_xlabel("trainable parameters (log scale)")
        axis.set_ylabel(runs[0]["metric"] if runs else "")
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(rows: list[dict], output_dir: Path) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "compare.json").write_text(json.dumps(metrics_object(rows), indent=2, sort_keys=True) + "\n")
    (output_dir / "compare.md").write_text("# Measured comparison\n\n" + markdown_table(rows))
    plot(rows, output_dir / "compare.png")
