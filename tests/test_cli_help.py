"""`prefixes --help` answers at once: no command's help loads torch or transformers, and every
option says what it is for."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from pipeline.cli import STAGE_COMMANDS, main
from prefixes.cli import LIBRARY_COMMANDS

HEAVY = ("torch", "transformers")


def _modules_loaded_by(args: list[str]) -> list[str]:
    code = (
        "import sys\nfrom pipeline.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        f"print('loaded:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [name for name in done.stdout.splitlines()[-1].removeprefix("loaded:").split(",") if name]


def test_top_level_help_loads_no_model_stack():
    assert _modules_loaded_by(["--help"]) == []


@pytest.mark.parametrize("command", sorted(LIBRARY_COMMANDS | STAGE_COMMANDS))
def test_command_help_loads_no_model_stack(command):
    assert _modules_loaded_by([command, "--help"]) == []


def _options(command: click.Command, path: str):
    for param in command.params:
        if isinstance(param, click.Option):
            yield f"{path} {param.opts[0]}", param
    if isinstance(command, click.Group):
        for name in command.list_commands(click.Context(command)):
            sub = command.get_command(click.Context(command), name)
            assert sub is not None
            yield from _options(sub, f"{path} {name}")


def test_every_option_has_help():
    missing = [where for where, option in _options(main, "prefixes")
               if not option.help and not option.is_flag and option.opts[0] not in ("--help", "--version")]
    assert missing == []
