"""`prefixes`: the command-line entry point (also `python -m pipeline`).

Subcommands are imported when invoked, so `prefixes registry ...` starts without loading torch.
"""

from __future__ import annotations

import importlib

import click

# command name -> (module, attribute)
_COMMANDS = {
    "prepare": ("pipeline.stages", "prepare"),
    "train-prefix": ("pipeline.stages", "train_prefix"),
    "train-prompt": ("pipeline.stages", "train_prompt"),
    "train-baseline": ("pipeline.stages", "train_baseline"),
    "evaluate": ("pipeline.stages", "evaluate"),
    "check-params": ("pipeline.stages", "check_params"),
    "compare": ("pipeline.compare_cli", "compare"),
    "multi-task-bundle": ("pipeline.bundle_cli", "multi_task_bundle"),
    "registry": ("pipeline.registry_cli", "registry"),
    "predict": ("pipeline.predict_cli", "predict"),
}


class _LazyGroup(click.Group):
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
