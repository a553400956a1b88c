"""Where a published version came from: the git state of the repository that published it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from prefixes.registry.metadata import GitInfo

_GIT_TIMEOUT_S = 30


def _git(args: list[str], cwd: Path) -> str | None:
    """Run git in `cwd`; None when git is missing or `cwd` is not a repository (with commits)."""
    try:
        result = subprocess.run(
            # --no-optional-locks: `status` must not take .git/index.lock from under a concurrent
            # `git commit` in the same repository.
            ["git", "--no-optional-locks", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


def git_info(cwd: Path, registry_root: Path) -> GitInfo:
    """Commit and dirty flag of the repository containing `cwd`.

    Changes inside the registry itself are excluded from the dirty check: freshly published but not
    yet committed versions say nothing about the code that produced the next one.
    """
    commit = _git(["rev-parse", "HEAD"], cwd)
    status_args = ["status", "--porcelain"]
    root = registry_root.resolve()
    if root.is_relative_to(cwd.resolve()):
        status_args += ["--", ".", f":(exclude){os.path.relpath(root, cwd.resolve())}"]
    status = _git(status_args, cwd)
    return GitInfo(
        commit=commit.strip() if commit else None,
        dirty=None if status is None else bool(status.strip()),
    )
