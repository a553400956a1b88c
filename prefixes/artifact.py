"""On-disk form of a trained prefix or prompt: ``prefix_config.json`` + ``prefix.safetensors``.

Weights are safetensors only; nothing is ever unpickled. The JSON records what the tensors mean
and which base model they belong to, so loading onto the wrong model fails with a clear error.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import tempfile
from pathlib import Path
from typing import Literal

import torch
from pydantic import Field
from safetensors.torch import load_file, save_file
from transformers import PreTrainedModel

from prefixes.config import StrictModel

CONFIG_NAME = "prefix_config.json"
WEIGHTS_NAME = "prefix.safetensors"
FORMAT_VERSION = 1


class BaseModelIdentity(StrictModel):
    """Which base model an artifact was trained on."""

    model_type: str
    name_or_path: str = Field(description="What to load the base model from when none is given.")
    revision: str | None = None
    fingerprint: str = Field(description="Digest of the frozen weights (bfloat16-rounded, so dtype casts match).")
    num_labels: int | None = None


class ArtifactConfig(StrictModel):
    """The JSON half of an artifact."""

    format_version: int = FORMAT_VERSION
    method: Literal["prefix", "p_tuning_v2", "prompt"]
    form: Literal["folded", "training"] = Field(
        description="'training' keeps the reparameterisation MLP to resume; 'folded' is the inference prefix."
    )
    task_type: str
    method_config: dict
    layout: dict | None = Field(default=None, description="Prefix sites and shape (prefix methods).")
    hidden_size: int
    base_model: BaseModelIdentity
    head: list[str] = Field(default_factory=list, description="Trained task-head parameters stored alongside.")
    library_versions: dict[str, str] = Field(default_factory=dict)


def library_versions() -> dict[str, str]:
    names = ("prefixes", "torch", "transformers", "safetensors")
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def weights_fingerprint(model: PreTrainedModel, exclude: set[str]) -> str:
    """A content digest of the frozen weights, independent of the dtype they were loaded in."""
    digest = hashlib.blake2b(digest_size=16)
    for name, param in sorted(model.named_parameters(), key=lambda item: item[0]):
        if name in exclude:
            continue
        rounded = param.detach().to("cpu", torch.bfloat16).contiguous()
        digest.update(f"{name}:{tuple(rounded.shape)};".encode())
        digest.update(rounded.view(torch.int16).numpy().tobytes())
    return digest.hexdigest()


def write_artifact(directory: str | os.PathLike, config: ArtifactConfig, tensors: dict[str, torch.Tensor]) -> Path:
    """Write both files into ``directory`` (created if needed); each file is replaced atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    contiguous = {name: tensor.detach().to("cpu").contiguous() for name, tensor in tensors.items()}
    _atomic_write(directory / WEIGHTS_NAME, lambda path: save_file(contiguous, str(path)))
    text = json.dumps(config.model_dump(), indent=2, sort_keys=True) + "\n"
    _atomic_write(directory / CONFIG_NAME, lambda path: Path(path).write_text(text))
    return directory


def read_artifact(directory: str | os.PathLike) -> tuple[ArtifactConfig, dict[str, torch.Tensor]]:
    directory = Path(directory)
    config_path = directory / CONFIG_NAME
    if not config_path.is_file() or not (directory / WEIGHTS_NAME).is_file():
        raise FileNotFoundError(
            f"{directory} is not a prefixes artifact: it needs {CONFIG_NAME} and {WEIGHTS_NAME} "
            "(written by save_pretrained)"
        )
    try:
        raw = json.loads(config_path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{config_path} is not valid JSON ({error}); the artifact is corrupted") from error
    if isinstance(raw, dict) and raw.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
        raise ValueError(
            f"{config_path} has format_version {raw['format_version']}, newer than this library's "
            f"{FORMAT_VERSION}: upgrade prefixes to load it"
        )
    config = ArtifactConfig.model_validate(raw)
    try:
        tensors = load_file(str(directory / WEIGHTS_NAME))
    except Exception as error:  # safetensors raises its own error types for corrupt headers
        raise ValueError(f"{directory / WEIGHTS_NAME} cannot be read ({error}); the artifact is corrupted") from error
    return config, tensors


def _atomic_write(path: Path, write) -> None:
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        write(staging)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
