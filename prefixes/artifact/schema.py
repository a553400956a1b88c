"""The JSON half of an artifact, ``prefix_config.json``: one schema for the model code and the registry.

Torch-free, so the registry and bundle manifests can read an artifact without the model stack.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from prefixes.strict import StrictModel

CONFIG_NAME = "prefix_config.json"
WEIGHTS_NAME = "prefix.safetensors"
ARTIFACT_FILES = (CONFIG_NAME, WEIGHTS_NAME)
CARD_NAME = "README.md"
"""The model card: what the artifact is, for people (not read by the loader)."""
FORMAT_VERSION = 1


class BaseModelIdentity(StrictModel):
    """Which base model an artifact was trained on."""

    model_type: str
    name_or_path: str = Field(description="What to load the base model from when none is given.")
    revision: str | None = None
    fingerprint: str = Field(description="Digest of the frozen weights (bfloat16-rounded, so dtype casts match).")
    num_labels: int | None = None


class ArtifactConfig(StrictModel):
    """What the tensors of an artifact mean and which base model they belong to."""

    format_version: int = FORMAT_VERSION
    method: str = Field(description="Registered method name (see prefixes.methods.registry).")
    form: Literal["folded", "training"] = Field(
        description="'training' keeps the reparameterisation MLP to resume; 'folded' is the inference prefix."
    )
    task_type: str
    method_config: dict[str, Any]
    layout: dict[str, Any] | None = Field(default=None, description="Prefix sites and shape (prefix methods).")
    hidden_size: int | None = Field(default=None, description="The base model's hidden width.")
    shape: dict[str, Any] | None = Field(
        default=None, description="The resolved shape as one block, for artifacts written by other tools."
    )
    base_model: BaseModelIdentity
    head: list[str] = Field(default_factory=list, description="Trained task-head parameters stored alongside.")
    label_names: list[str] | None = Field(default=None, description="Class names in label-id order (id2label).")
    library_versions: dict[str, str] = Field(default_factory=dict)

    def resolved_shape(self) -> dict[str, Any]:
        """The shape block the registry records, whichever spelling the artifact used."""
        if self.shape is not None:
            return self.shape
        return {"layout": self.layout, "hidden_size": self.hidden_size}


def read_artifact_config(directory: str | os.PathLike) -> ArtifactConfig:
    """Read and validate ``prefix_config.json``; errors say which file is wrong and what to do."""
    directory = Path(directory)
    missing = [name for name in ARTIFACT_FILES if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{directory} is not a prefixes artifact: missing {', '.join(missing)} "
            "(write it with the model's save_pretrained)"
        )
    path = directory / CONFIG_NAME
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); the artifact is corrupted") from None
    if isinstance(raw, dict) and raw.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
        raise ValueError(
            f"{path} has format_version {raw['format_version']}, newer than this library's "
            f"{FORMAT_VERSION}: upgrade prefixes to load it"
        )
    try:
        return ArtifactConfig.model_validate(raw)
    except ValidationError as error:
        raise ValueError(f"{path} is not a valid prefix config: {error}") from None


def artifact_json(config: ArtifactConfig) -> bytes:
    """The bytes of ``prefix_config.json``: sorted keys and a trailing newline, for stable diffs.

    ``shape`` is only written by other tools; leaving it out when unset keeps the bytes (and so
    the registry's content digest) of an artifact the same as before the field existed.
    """
    # Fields other tools or older versions did not write are left out when unset, which keeps the
    # bytes (and so the registry's content digest) of such an artifact unchanged.
    unset = {name for name in ("shape", "label_names") if getattr(config, name) is None}
    data = config.model_dump(exclude=unset)
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()
