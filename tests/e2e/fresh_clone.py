"""A fresh clone of the working tree, and the environment a newcomer's shell starts with."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GIT_IDENTITY = ["-c", "user.email=ci@example.com", "-c", "user.name=ci"]


def fresh_clone(root: Path) -> Path:
    """A git repository holding the tracked files of this one as they are in the working tree.

    Copying the working tree (not `git clone`) lets uncommitted edits be tested before they land.
    """
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for name in filter(None, tracked.split("\0")):
        source = REPO / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    for args in (["init", "-q"], [*GIT_IDENTITY, "add", "-A"], [*GIT_IDENTITY, "commit", "-qm", "clone"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    return root


def plain_environment() -> dict[str, str]:
    """A newcomer's shell: system folders and Python 3.11 on PATH, nothing activated.

    The base interpreter's folder stands in for "Python 3.11 and pip are installed"; it holds no
    `dvc` or `prefixes`. pip's own settings, proxies and HOME pass through: they are the machine's.
    """
    base_bin = Path(sys.base_prefix) / "bin"
    keep = {k: v for k, v in os.environ.items() if k.startswith("PIP_") or k.lower().endswith("_proxy")}
    keep.update({k: os.environ[k] for k in ("HOME", "LANG", "TMPDIR", "CI") if k in os.environ})
    return {**keep, "PATH": os.pathsep.join([str(base_bin), "/usr/bin", "/bin"])}
