"""Where a published version came from: git state, library versions and the producing DVC stage."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
from importlib import metadata as importlib_metadata
from pathlib import Path

from prefixes.registry.errors import RegistryError
from prefixes.registry.metadata import DvcInfo, GitInfo

# Libraries whose versions decide whether a stored prefix can be loaded and behaves the same.
RECORDED_LIBRARIES = ("prefixes", "torch", "transformers", "safetensors")

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


@functools.cache
def library_versions() -> dict[str, str]:
    """Installed versions of `RECORDED_LIBRARIES` (read from package metadata, nothing imported).

    Cached per process: parsing package metadata costs milliseconds per publish, and installed
    versions do not change under a running interpreter in any way it could use.
    """
    versions: dict[str, str] = {}
    for name in RECORDED_LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def dvc_info(lock_path: Path | None, stage: str | None) -> DvcInfo:
    """Hash the `stage` entry of `lock_path` (dvc.lock); both null when neither is given.

    The entry is hashed as canonical JSON (sorted keys) so that YAML formatting changes that keep
    the same deps, params and outs give the same hash.
    """
    if lock_path is None and stage is None:
        return DvcInfo(stage=None, lock_hash=None)
    if lock_path is None or stage is None:
        raise RegistryError("give both a dvc.lock path and a stage name, or neither")
    import yaml  # imported here: only publishing with DVC provenance needs it

    try:
        lock = yaml.safe_load(lock_path.read_text())
    except FileNotFoundError:
        raise RegistryError(f"dvc.lock file {lock_path} does not exist") from None
    except yaml.YAMLError as error:
        raise RegistryError(f"{lock_path} is not valid YAML: {error}") from None
    stages = lock.get("stages") if isinstance(lock, dict) else None
    if not isinstance(stages, dict) or stage not in stages:
        known = ", ".join(sorted(stages)) if isinstance(stages, dict) else "none"
        raise RegistryError(
            f"stage {stage!r} is not in {lock_path} (stages there: {known}); run `dvc repro` first"
        )
    canonical = json.dumps(stages[stage], sort_keys=True, separators=(",", ":"), default=str)
    return DvcInfo(stage=stage, lock_hash=hashlib.sha256(canonical.encode()).hexdigest())
