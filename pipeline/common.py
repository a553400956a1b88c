"""What every stage command shares: validated params, loaded before any work."""

from __future__ import annotations

import click

from prefixes.params import Params, ParamsError, load_params

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
