"""Which DVC stage produced a published version: the hash of its entry in a dvc.lock file that the
caller names (the publish stage, or `prefixes registry publish --dvc-lock`); the registry never
looks for one and records the result as given."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

from prefixes.registry import RegistryError
from prefixes.registry.metadata import DvcInfo


def dvc_info(lock_path: Path | None, stage: str | None) -> DvcInfo:
    """Hash the `stage` entry of `lock_path` (dvc.lock); both null when neither is given.

    The entry is hashed as canonical JSON (sorted keys) so that YAML formatting changes that keep
    the same deps, params and outs give the same hash.
    """
    if lock_path is None and stage is None:
        return DvcInfo(stage=None, lock_hash=None)
    if lock_path is None or stage is None:
        raise RegistryError("give both a dvc.lock path and a stage name, or neither")
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
