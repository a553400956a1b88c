"""Bundle manifests: what a bundle holds, as validated JSON.

A manifest pins its members: each task's artifact directory (a path next to the manifest, or a
version in the registry), the sha256 of each artifact file, and the label names of
classification tasks. ``prefixes.bundle.members`` builds and checks them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Final, Literal

from pydantic import Field, ValidationError, model_validator

from prefixes.io import write_atomic
from prefixes.strict import StrictModel

SCHEMA_VERSION: Final = 1
MANIFEST_NAME: Final = "manifest.json"
"""A bundle folder's manifest, as the bundle stage writes it and `prefixes predict --bundle DIR` reads it."""


class BundleError(ValueError):
    """A bundle that cannot be built or loaded as asked; the message says what to change."""


class BaseModelRef(StrictModel):
    """The frozen base model every member was trained on."""

    name_or_path: str = Field(description="What to load the base model from when none is given.")
    revision: str | None = Field(default=None, description="Hub revision the members were trained at.")
    fingerprint: str = Field(description="Digest of the frozen weights, as recorded in each prefix_config.json.")


class RegistryRef(StrictModel):
    """A member stored in the prefix registry rather than next to the manifest."""

    registry: str = Field(description="Registry root; in a manifest, relative to the manifest's folder.")
    task: str
    method: str
    version: str = Field(default="latest", description="'vN' or an alias; build_manifest pins it to 'vN'.")


class BundleMember(StrictModel):
    """One task of the bundle."""

    task: str = Field(min_length=1)
    method: str = Field(description="The registered method the task was trained with.")
    artifact: str | RegistryRef = Field(description="Artifact folder relative to the manifest's folder, or a registry version.")
    sha256: dict[str, str] = Field(description="Hex sha256 of each artifact file, checked before loading.")
    labels: list[str] | None = Field(default=None, description="Label names of a classification task; null otherwise.")
    template: str | None = Field(
        default=None, description="Generation: the training prompt template, with one {source} slot, applied to requests."
    )


class BundleManifest(StrictModel):
    """What a bundle holds; written by :func:`write_manifest`, read by :func:`read_manifest`."""

    schema_version: Literal[1] = SCHEMA_VERSION
    name: str = Field(min_length=1)
    base_model: BaseModelRef
    members: list[BundleMember] = Field(min_length=1)

    @model_validator(mode="after")
    def _tasks_are_unique(self) -> BundleManifest:
        tasks = [member.task for member in self.members]
        repeated = sorted({task for task in tasks if tasks.count(task) > 1})
        if repeated:
            raise ValueError(f"tasks {repeated} appear more than once: a bundle holds one artifact per task")
        return self

    @property
    def tasks(self) -> list[str]:
        return [member.task for member in self.members]


def write_manifest(path: str | os.PathLike, manifest: BundleManifest) -> Path:
    """Write the manifest as JSON; the file is replaced atomically (readers never see half of it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, (manifest.model_dump_json(indent=2) + "\n").encode())
    return path


def read_manifest(path: str | os.PathLike) -> BundleManifest:
    """Read and validate a manifest; every problem is reported with the file's name."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"no bundle manifest at {path}: build one with the multi-task-bundle stage")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise BundleError(f"{path} is not valid JSON ({error})") from None
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise BundleError(f"{path} has schema_version {version}, newer than {SCHEMA_VERSION}: upgrade prefixes to read it")
    try:
        return BundleManifest.model_validate(raw)
    except ValidationError as error:
        raise BundleError(f"{path} is not a valid bundle manifest:\n{error}") from None
