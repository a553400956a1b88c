"""The library's commands: `predict` (serve a bundle), `interpolate` (mix two adapters) and
`registry` (look up, publish, promote, verify, push). Also `python -m prefixes`.

A pipeline adds its stage commands to the same group (`LazyGroup` over a merged table), so one
`prefixes` command serves both. Subcommands are imported when invoked or asked for help, so no
command's `--help` loads torch.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping

import click

# A command's output is for people. transformers' per-load reports and progress bars name nothing a
# user of a command can act on (and write raw escape codes into logs); set the variables to see them.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

# command name -> (module, attribute)
LIBRARY_COMMANDS = {
    "registry": ("prefixes.cli.registry", "registry"),
    "predict": ("prefixes.cli.predict", "predict"),
    "interpolate": ("prefixes.cli.interpolate", "interpolate"),
}


class LazyGroup(click.Group):
    """A click group whose commands are imported by name when first used."""

    def __init__(self, *args, commands_by_name: Mapping[str, tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.commands_by_name = dict(commands_by_name)

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
        return sorted(self.commands_by_name)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands_by_name:
            return None
        module, attribute = self.commands_by_name[name]
        return getattr(importlib.import_module(module), attribute)


def command_group(commands: Mapping[str, tuple[str, str]]) -> click.Group:
    """The `prefixes` group over ``commands`` (name -> (module, attribute))."""

    @click.group(cls=LazyGroup, commands_by_name=commands)
    @click.version_option(package_name="prefixes")
    def group() -> None:
        """Prefix tuning, prompt tuning and P-tuning v2 over frozen transformers models."""

    return group


main = command_group(LIBRARY_COMMANDS)
