"""The prepare stage: load, de-duplicate and split a task's data; materialise its base model."""

from __future__ import annotations

import click

from pipeline.common import load_or_exit, params_option, require_task
from pipeline.prepared import prepare_task
from prefixes.base_models import resolve_model_path


@click.command("prepare")
@params_option
@click.option("--task", required=True, help="Task key in params.yaml.")
@click.option("--out", "output_dir", required=True, type=click.Path(file_okay=False), help="Where the splits go.")
def prepare(params_path: str, task: str, output_dir: str) -> None:
    """Split a task's data (with fingerprints) and materialise its base model."""
    params = load_or_exit(params_path)
    require_task(params, task)
    summary = prepare_task(params.tasks[task], seed=params.seed, output_dir=output_dir)
    # Converting the embedded GGUF model happens once here, not inside a timed training stage.
    resolve_model_path(params.models[params.tasks[task].model])
    click.echo(f"{task}: {summary['counts']} fingerprint {summary['fingerprint'][:12]}")
