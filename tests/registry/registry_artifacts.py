"""Artifact directories for the registry tests, written by hand from random tensors and JSON.

The registry tests do not depend on the model code: an artifact is just the two files that
`save_pretrained` writes. (A plain module rather than a conftest.py: `tests/conftest.py` is
imported by name elsewhere, and a second conftest would shadow it.)
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file


def write_artifact(parent: Path, seed: int, form: str = "folded") -> Path:
    """Write an artifact whose weights are determined by `seed` into a new dir under `parent`."""
    parent.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix=f"artifact-{seed}-", dir=parent))
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
