"""The compare stage: one table, JSON and plot over every trained run."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.common import load_or_exit, params_option
from prefixes.report import collect_rows, markdown_table, write_report


@click.command("compare")
@params_option
@click.option("--metrics-dir", default="metrics", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--artifacts-dir", default="artifacts", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "output_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
def compare(params_path: str, metrics_dir: Path, artifacts_dir: Path, output_dir: Path) -> None:
    """Measured metric, trainable parameters, artifact size, wall time and peak memory per run."""
    params = load_or_exit(params_path)
    rows = collect_rows(metrics_dir, artifacts_dir, {name: task.format for name, task in params.tasks.items()})
    if not rows:
        raise click.ClickException(f"no runs with both {artifacts_dir}/*/*/train.json and metrics in {metrics_dir}")
    write_report(rows, output_dir)
    click.echo(markdown_table(rows))
