"""The tensor half of an artifact, ``prefix.safetensors``, and the base-weights fingerprint.

Weights are safetensors only; nothing is ever unpickled. The JSON half (``schema``) records what
the tensors mean and which base model they belong to, so loading onto the wrong model fails with
a clear error.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save

from prefixes.artifact.schema import (
    CARD_NAME,
    CONFIG_NAME,
    WEIGHTS_NAME,
    ArtifactConfig,
    artifact_json,
    read_artifact_config,
)
from prefixes.io import TEMP_PREFIX, replace_dir, write_atomic


def weights_fingerprint(model: torch.nn.Module, exclude: set[str]) -> str:
    """A content digest of the frozen weights, independent of the dtype they were loaded in."""
    digest = hashlib.blake2b(digest_size=16)
    for name, param in sorted(model.named_parameters(), key=lambda item: item[0]):
        if name in exclude:
            continue
        rounded = param.detach().to("cpu", torch.bfloat16).contiguous()
        digest.update(f"{name}:{tuple(rounded.shape)};".encode())
        digest.update(rounded.view(torch.int16).numpy().tobytes())
    return digest.hexdigest()


def write_artifact(directory: str | os.PathLike, config: ArtifactConfig, tensors: dict[str, torch.Tensor],
                   card: str | None = None) -> Path:
    """Write the files into a new folder and swap it in for ``directory``: a kill never leaves new
    tensors beside an old config. ``card`` is the README.md model card. ``directory`` may hold
    nothing but an artifact."""
    directory = Path(directory)
    existing = sorted(path.name for path in directory.iterdir()) if directory.is_dir() else []
    own = (WEIGHTS_NAME, CONFIG_NAME, CARD_NAME)
    foreign = [name for name in existing if name not in own and not name.startswith(TEMP_PREFIX)]
    if foreign:
        raise ValueError(f"{directory} holds other files than an artifact ({', '.join(foreign)}): "
                         "save into a new or empty folder")
    contiguous = {name: tensor.detach().to("cpu").contiguous() for name, tensor in tensors.items()}

    def fill(staging: Path) -> None:
        write_atomic(staging / WEIGHTS_NAME, save(contiguous))
        write_atomic(staging / CONFIG_NAME, artifact_json(config))
        if card is not None:
            write_atomic(staging / CARD_NAME, card.encode())

    replace_dir(directory, fill)
    return directory


def read_artifact(directory: str | os.PathLike) -> tuple[ArtifactConfig, dict[str, torch.Tensor]]:
    """The validated config and the tensors of an artifact written by ``write_artifact``."""
    config = read_artifact_config(directory)
    path = Path(directory) / WEIGHTS_NAME
    try:
        tensors = load_file(str(path))
    except Exception as error:  # safetensors raises its own error types for corrupt headers
        raise ValueError(f"{path} cannot be read ({error}); the artifact is corrupted") from error
    return config, tensors
