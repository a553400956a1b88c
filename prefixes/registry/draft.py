"""The metadata of a version about to be published, and every check that must pass before a write.

A version is immutable once its directory appears, so anything that would make it unreadable or
misleading (a NaN metric JSON cannot hold, an artifact filed under another method) is refused here,
before the first byte is written.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from prefixes.artifact.schema import ArtifactConfig
from prefixes.methods.registry import method_names
from prefixes.registry.artifact import content_digest
from prefixes.registry.errors import ArtifactError, RegistryError, describe_validation
from prefixes.registry.metadata import (
    MAX_METADATA_BYTES,
    SCHEMA_VERSION,
    BaseModelInfo,
    DvcInfo,
    EntryMetadata,
    FileRecord,
    parse_metadata,
)
from prefixes.registry.provenance import git_info
from prefixes.versions import library_versions

# The metadata fields whose size the publisher chooses; everything else is small and fixed.
_FREE_FORM_FIELDS = ("training_params", "metrics", "method_config", "shape")


def check_method(method: str, config: ArtifactConfig, artifact_dir: Path) -> None:
    """Refuse filing an artifact under another registered method's name (other names are free labels)."""
    if method in method_names() and method != config.method:
        raise ArtifactError(
            f"cannot publish {artifact_dir} as method {method!r}: it holds a {config.method!r} "
            f"artifact; publish it with --method {config.method}"
        )


def non_finite_path(value: Any, path: str) -> str | None:
    """The dotted path of the first NaN or infinite float inside `value`, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if isinstance(value, dict):
        items = ((f"{path}.{key}", item) for key, item in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    for item_path, item in items:
        found = non_finite_path(item, item_path)
        if found is not None:
            return found
    return None


def check_finite(training_params: dict[str, Any], metrics: dict[str, Any]) -> None:
    """JSON has no NaN or Infinity; they would be stored as null and could never be read back."""
    for name, value in metrics.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise RegistryError(
                f"metric {name!r} is {value}: metrics must be finite numbers (NaN or infinity "
                "usually means training diverged); fix the run or leave the metric out"
            )
    found = non_finite_path(training_params, "training_params")
    if found is not None:
        raise RegistryError(
            f"{found} is not a finite number; JSON cannot store NaN or infinity, give a finite "
            "value or leave it out"
        )


def check_size(text: str, draft: EntryMetadata, source: str) -> None:
    """Refuse metadata that readers would refuse as damaged (`MAX_METADATA_BYTES`), naming its largest part."""
    size = len(text.encode())
    if size <= MAX_METADATA_BYTES:
        return
    parts = {name: len(json.dumps(getattr(draft, name)).encode()) for name in _FREE_FORM_FIELDS}
    largest = max(parts, key=parts.__getitem__)
    raise RegistryError(
        f"cannot publish {source}: its metadata.json would be {size:,} bytes, over the "
        f"{MAX_METADATA_BYTES >> 20} MiB limit: {largest} takes {parts[largest]:,} of them; publish a "
        f"smaller {largest}"
    )


def build_draft(
    config: ArtifactConfig,
    records: list[FileRecord],
    *,
    task: str,
    method: str,
    version: str,
    root: Path,
    training_params: dict[str, Any],
    metrics: dict[str, Any],
    dataset_fingerprint: str | None,
    dvc: DvcInfo | None,
) -> EntryMetadata:
    """The metadata to store, validated and proven to read back; `version` is a first guess."""
    check_finite(training_params, metrics)
    source = f"metadata of {task}/{method}"
    try:
        draft = EntryMetadata(
            schema_version=SCHEMA_VERSION,
            task=task,
            method=method,
            version=version,
            created_at=datetime.now(UTC),
            digest=content_digest(records),
            form="folded",
            adapter_method=config.method,
            task_type=config.task_type,
            base_model=BaseModelInfo(**config.base_model.model_dump(exclude={"num_labels"})),
            method_config=config.method_config,
            shape=config.resolved_shape(),
            training_params=training_params,
            metrics=metrics,
            dataset_fingerprint=dataset_fingerprint,
            git=git_info(Path.cwd(), root),
            dvc=dvc or DvcInfo(stage=None, lock_hash=None),
            library_versions=dict(library_versions()),
            artifact_library_versions=config.library_versions,
            files=records,
        )
        # What cannot be read back must not be written (unserialisable, lossy or too large).
        text = draft.to_json()
        check_size(text, draft, source)
        parse_metadata(text, source)
    except ValidationError as error:
        raise RegistryError(f"cannot publish {source}: {describe_validation(error)}") from None
    except PydanticSerializationError as error:
        raise RegistryError(f"cannot publish {source}: {error}") from None
    return draft
