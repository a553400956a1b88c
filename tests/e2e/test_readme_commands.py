"""The README's first command, run literally from a fresh clone in a shell with a plain PATH.

This is what a newcomer does first; it once failed inside `dvc repro` with
`prefixes: command not found` because stage commands were looked up on a PATH without the
project's environment. The run creates the environment from scratch, as on a new machine.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from fresh_clone import REPO, fresh_clone, plain_environment

pytestmark = pytest.mark.e2e

FIRST_STAGE = "prepare@bbc_news"


def readme_commands() -> list[str]:
    """The commands of the README's first bash block, comments stripped."""
    block = re.search(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert block, "README.md must start with a ```bash block of its commands"
    lines = (line.split("#", 1)[0].strip() for line in block.group(1).splitlines())
    return [line for line in lines if line]


def _run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)


def _explain(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def test_readme_starts_with_the_main_job_then_the_tests():
    first, second = readme_commands()[:2]
    assert shlex.split(first)[:3] == ["bash", "dev.sh", "repro"]
    assert shlex.split(second)[:3] == ["bash", "dev.sh", "test"]


def test_first_command_runs_from_a_fresh_clone_with_a_plain_path(tmp_path):
    clone = fresh_clone(tmp_path / "clone")
    shutil.copy(REPO / "tests" / "e2e" / "tiny_params.yaml", clone / "params.yaml")
    env = plain_environment()
    assert shutil.which("prefixes", path=env["PATH"]) is None and shutil.which("dvc", path=env["PATH"]) is None

    result = _run(f"{readme_commands()[0]} {FIRST_STAGE}", clone, env)

    assert result.returncode == 0, _explain(result)
    assert (clone / "data" / "prepared" / "bbc_news" / "train.jsonl").stat().st_size > 0
    # The documented alternative: activate the environment, then plain `dvc repro`.
    activated = _run(f"source .venv/bin/activate && dvc repro prepare@chitchat && dvc status {FIRST_STAGE}",
                     clone, env)
    assert activated.returncode == 0, _explain(activated)
    assert (clone / "data" / "prepared" / "chitchat" / "train.jsonl").stat().st_size > 0
    assert "up to date" in activated.stdout
