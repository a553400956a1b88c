"""Every ```python block of README.md runs as pasted, on its own, in a fresh clone, offline.

Each block runs in a new interpreter from the clone's root (where a newcomer pastes it), so a
block that leans on another block's names or files, or on a file the clone lacks, fails here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from fresh_clone import REPO, fresh_clone

pytestmark = pytest.mark.e2e


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)


def test_the_readme_shows_python_blocks():
    assert len(python_blocks()) >= 3


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    return fresh_clone(tmp_path_factory.mktemp("readme") / "clone")


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_readme_python_block_runs_as_pasted(clone, index):
    block = python_blocks()[index]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    result = subprocess.run([sys.executable, "-c", block], cwd=clone, env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, f"README block {index + 1} failed:\n{block}\n{result.stderr[-3000:]}"
    if "print(" in block:
        assert result.stdout.strip(), f"README block {index + 1} printed nothing"
