"""Pydantic schema of a version's `metadata.json`, and migration of older schema versions.

`metadata.json` is written once, next to the artifact files, when a version is published. Readers
migrate older schema versions in memory (the file on disk is immutable like the rest of the
version) and refuse newer ones, because silently dropping fields a newer writer relied on would make
provenance look complete when it is not.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, ValidationError, field_validator, model_validator

from prefixes.registry.errors import RegistryError, SchemaVersionError, describe_validation
from prefixes.registry.names import file_name_problem
from prefixes.registry.reading import MAX_DOCUMENT_BYTES, read_document

SCHEMA_VERSION: Final = 2
# Readers refuse a larger metadata.json as damaged, so publish refuses to write one.
MAX_METADATA_BYTES: Final = MAX_DOCUMENT_BYTES

_SHA256 = r"^[0-9a-f]{64}$"


class _Strict(BaseModel):
    """Unknown keys are errors: a typo or a field from another schema must not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FileRecord(_Strict):
    """One artifact file as published."""

    name: str = Field(description="File name inside the version directory.")
    sha256: str = Field(pattern=_SHA256, description="Hex sha256 of the file's bytes.")
    size: int = Field(ge=0, description="Size in bytes.")

    @field_validator("name")
    @classmethod
    def _plain_file_name(cls, name: str) -> str:
        # Checked when metadata is read, so no file is opened under a name like `../../etc/x`.
        problem = file_name_problem(name)
        if problem is not None:
            raise ValueError(f"invalid file name {name!r}: {problem}")
        return name


class BaseModelInfo(_Strict):
    """The frozen base model the prefix was trained against."""

    name_or_path: str = Field(description="Hub id or local path the base model was loaded from.")
    model_type: str | None = Field(description="transformers `model_type`, e.g. 'gpt2'.")
    revision: str | None = Field(description="Hub revision (branch, tag or commit), if recorded.")
    fingerprint: str | None = Field(description="Content fingerprint of the base model's weights.")


class GitInfo(_Strict):
    """State of the code repository the publisher ran in."""

    commit: str | None = Field(description="`git rev-parse HEAD`; null outside a git repository.")
    dirty: bool | None = Field(description="Uncommitted changes; null outside a git repository.")


class DvcInfo(_Strict):
    """The DVC stage whose outputs were published."""

    stage: str | None = Field(description="Stage name in dvc.lock, e.g. 'train-prefix@sst2'.")
    lock_hash: str | None = Field(
        description="sha256 of the stage's canonical dvc.lock entry; null when not given."
    )


class EntryMetadata(_Strict):
    """Everything recorded about one published version."""

    schema_version: Literal[2] = Field(description="Version of this schema.")
    task: str = Field(description="Task name, the first path component.")
    method: str = Field(description="Method name, usually one of prefixes.methods.registry.method_names().")
    version: str = Field(description="Version directory name, 'v1', 'v2', ...")
    created_at: datetime = Field(description="Publication time (UTC).")
    digest: str = Field(
        pattern=_SHA256, description="sha256 over the sorted (name, sha256) of the artifact files."
    )
    form: Literal["folded"] = Field(description="Only folded inference prefixes are stored.")
    adapter_method: str = Field(description="`method` from prefix_config.json, the method that saved it.")
    task_type: str | None = Field(description="`task_type` from prefix_config.json.")
    base_model: BaseModelInfo
    method_config: dict[str, Any] = Field(description="The prefix/prompt config as trained.")
    shape: dict[str, Any] = Field(description="The resolved prefix shape (layers, heads, dims).")
    training_params: dict[str, Any] = Field(description="Training parameters given at publish.")
    # JSON has no NaN or Infinity: a non-finite metric would be written as null and the version
    # could never be read back, so it is refused.
    metrics: dict[str, FiniteFloat] = Field(description="Evaluation metrics given at publish.")
    dataset_fingerprint: str | None = Field(description="Fingerprint of the training data.")
    git: GitInfo
    dvc: DvcInfo
    library_versions: dict[str, str] = Field(description="Library versions at publish time.")
    artifact_library_versions: dict[str, str] = Field(
        description="Library versions recorded in prefix_config.json when the artifact was saved."
    )
    files: list[FileRecord] = Field(description="Every artifact file (metadata.json excluded).")

    @model_validator(mode="after")
    def _file_names_are_unique(self) -> EntryMetadata:
        names = [record.name for record in self.files]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"files lists {', '.join(map(repr, repeated))} more than once")
        return self

    def to_json(self) -> str:
        """Serialise for `metadata.json` (stable key order, trailing newline for git diffs)."""
        return self.model_dump_json(indent=2) + "\n"


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 kept git state flat (`git_commit`, `git_dirty`) and recorded no DVC provenance."""
    migrated = dict(data)
    migrated["git"] = {"commit": migrated.pop("git_commit"), "dirty": migrated.pop("git_dirty")}
    migrated["dvc"] = {"stage": None, "lock_hash": None}
    migrated["schema_version"] = 2
    return migrated


# Maps schema N to the function that turns an N document into an N+1 document.
_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def migrate(data: dict[str, Any], source: str) -> dict[str, Any]:
    """Bring a metadata document of any known schema version to `SCHEMA_VERSION`.

    `source` names the file in error messages.
    """
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RegistryError(
            f"{source}: 'schema_version' must be a positive integer, got {version!r}"
        )
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{source} has metadata schema_version {version}, but this version of prefixes reads "
            f"schema versions up to {SCHEMA_VERSION}; upgrade prefixes (pip install -U prefixes) "
            "to read it"
        )
    while version < SCHEMA_VERSION:
        try:
            data = _MIGRATIONS[version](data)
        except KeyError as missing:
            raise RegistryError(
                f"{source}: schema_version {version} metadata lacks the field {missing}"
            ) from None
        version = data["schema_version"]
    return data


def parse_metadata(text: str | bytes, source: str) -> EntryMetadata:
    """Parse, migrate and validate a metadata document; errors name `source`."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:  # RecursionError: absurdly deep nesting
        raise RegistryError(f"{source} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise RegistryError(f"{source} must hold a JSON object, got {type(data).__name__}")
    try:
        return EntryMetadata.model_validate(migrate(data, source))
    except ValidationError as error:
        raise RegistryError(
            f"{source} does not match the metadata schema: {describe_validation(error)}"
        ) from None


def read_metadata(path: Path) -> EntryMetadata:
    """Read and validate `metadata.json` at `path`."""
    try:
        text = read_document(path)
    except FileNotFoundError:
        raise RegistryError(f"{path} is missing: the version directory is incomplete") from None
    return parse_metadata(text, str(path))
