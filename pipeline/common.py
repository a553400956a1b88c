"""What every stage command shares: validated params, loaded before any work; JSON outputs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from pipeline.params import Params, ParamsError, load_params

params_option = click.option(
    "--params", "params_path", default="params.yaml", show_default=True,
    type=click.Path(dir_okay=False), help="The pipeline's parameters file.",
)


def load_or_exit(path: str) -> Params:
    """Validate params.yaml; on failure print every problem and exit non-zero before any work."""
    try:
        return load_params(path)
    except ParamsError as error:
        raise click.ClickException(str(error)) from None


def require_task(params: Params, task: str) -> None:
    if task not in params.tasks:
        raise click.ClickException(f"--task {task!r} is not defined in params.yaml; defined tasks: {sorted(params.tasks)}")


@contextmanager
def naming_the_model(models_key: str, model_id: str) -> Iterator[None]:
    """A base model that fails to load (a mistyped hub id, an unreachable hub) is named by its `models` key."""
    try:
        yield
    except OSError as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise OSError(f"models.{models_key}: cannot load {model_id!r}: {first_line}") from error


def write_json(path: str | Path, data: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def split_results(results: dict) -> tuple[dict, dict]:
    """(metrics, details): numbers DVC compares across runs, and what describes the run (counts,
    fingerprints, sample predictions), which goes to a plain JSON file beside them."""
    counts = {key for key in results if key.endswith(("examples", "tokens"))}
    metrics = {key: value for key, value in results.items()
               if isinstance(value, (int, float)) and not isinstance(value, bool) and key not in counts}
    return metrics, {key: value for key, value in results.items() if key not in metrics}


@click.command("check-params")
@params_option
def check_params(params_path: str) -> None:
    """Validate params.yaml and exit non-zero listing every problem."""
    params = load_or_exit(params_path)
    click.echo(f"{params_path}: ok ({len(params.task_names)} tasks)")
