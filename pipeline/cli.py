"""`prefixes`: the command-line entry point (also `python -m pipeline`).

Subcommands are imported when invoked, so `prefixes registry ...` starts without loading torch.
"""

from __future__ import annotations

import importlib
import os

import click

# A stage's output is for people. transformers' per-load reports and progress bars name nothing a
# stage's user can act on (and write raw escape codes into logs); set the variables to see them.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

# command name -> (module, attribute)
_COMMANDS = {
    "prepare": ("pipeline.prepare", "prepare"),
    "train-prefix": ("pipeline.train", "train_prefix"),
    "train-prompt": ("pipeline.train", "train_prompt"),
    "train-baseline": ("pipeline.train", "train_baseline"),
    "evaluate": ("pipeline.evaluate", "evaluate"),
    "compare": ("pipeline.compare", "compare"),
    "publish": ("pipeline.publish", "publish"),
    "multi-task-bundle": ("pipeline.bundle", "multi_task_bundle"),
    "check-params": ("pipeline.common", "check_params"),
    "registry": ("pipeline.registry_cli", "registry"),
    "predict": ("pipeline.predict_cli", "predict"),
    "interpolate": ("pipeline.interpolate_cli", "interpolate"),
    "sweep": ("pipeline.sweep", "sweep"),
}


class _LazyGroup(click.Group):
    def invoke(self, ctx: click.Context):
        """Bad input (data, params, artifacts, files) ends in one line `Error: ...` and exit 1.

        Every such error is a ValueError or OSError whose message names the field, value and fix;
        anything else is a bug and keeps its traceback. PREFIXES_DEBUG=1 shows tracebacks always.
        """
        try:
            return super().invoke(ctx)
        except (ValueError, OSError) as error:
            if os.environ.get("PREFIXES_DEBUG"):
                raise
            raise click.ClickException(f"{type(error).__name__}: {error}") from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in _COMMANDS:
            return None
        module, attribute = _COMMANDS[name]
        return getattr(importlib.import_module(module), attribute)


@click.group(cls=_LazyGroup)
@click.version_option(package_name="prefixes")
def main() -> None:
    """Prefix tuning, prompt tuning and P-tuning v2 over frozen transformers models."""
