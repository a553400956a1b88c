"""Fixtures for the registry tests: small artifact directories written by hand.

Artifacts are built here from random tensors and a JSON config, so these tests do not depend on
the model code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from prefixes.registry import Registry

ArtifactFactory = Callable[..., Path]


def write_artifact(directory: Path, seed: int, form: str = "folded") -> Path:
    """Write a folded (or training) artifact whose weights are determined by `seed`."""
    directory.mkdir(parents=True)
    generator = torch.Generator().manual_seed(seed)
    tensors = {
        "prefix.key": torch.randn(2, 4, 8, generator=generator),  # (layers, tokens, kv dim)
        "prefix.value": torch.randn(2, 4, 8, generator=generator),
    }
    save_file(tensors, str(directory / "prefix.safetensors"))
    config = {
        "method": "prefix",
        "form": form,
        "task_type": "text_classification",
        "base_model": {"model_type": "gpt2", "name_or_path": "tiny-gpt2", "fingerprint": "f00d"},
        "method_config": {"num_virtual_tokens": 4, "init": "random"},
        "shape": {"num_layers": 2, "num_virtual_tokens": 4, "kv_dim": 8},
        "library_versions": {"torch": torch.__version__},
    }
    (directory / "prefix_config.json").write_text(json.dumps(config, indent=2))
    return directory


@pytest.fixture
def make_artifact(tmp_path: Path) -> ArtifactFactory:
    """`make_artifact(seed, form="folded")` -> a fresh artifact directory under tmp_path."""
    counter = iter(range(1_000_000))

    def make(seed: int, form: str = "folded") -> Path:
        return write_artifact(tmp_path / "artifacts" / f"a{next(counter)}", seed, form)

    return make


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    """An empty registry; its root does not exist until the first publish."""
    return Registry(tmp_path / "reg")
