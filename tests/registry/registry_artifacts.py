"""Artifact directories for the registry tests, written by hand from random tensors and JSON.

The registry tests do not depend on the model code: an artifact is just the two files that
`save_pretrained` writes, in the same format (config keys, tensor names and shapes), small enough
to write thousands. (A plain module rather than a conftest.py: `tests/conftest.py` is imported by
name elsewhere, and a second conftest would shadow it.)
"""

from __future__ import annotations

import contextlib
import json
import signal
import struct
import sys
import tempfile
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

PREFIX_LENGTH = 4
HIDDEN_SIZE = 8
LAYOUT = {"site_kinds": ["self", "self"], "num_kv_heads": 2, "head_dim": 4}
# (virtual tokens, sites, key/value, kv heads, head dim), as PrefixEncoder.folded() returns it.
PREFIX_SHAPE = (PREFIX_LENGTH, 2, 2, 2, 4)
HEAD_SHAPES = {"classifier.bias": (3,), "classifier.weight": (3, HIDDEN_SIZE)}


def artifact_config(method: str = "prefix", form: str = "folded") -> dict[str, Any]:
    """prefix_config.json as save_pretrained writes it for `method`."""
    if method == "prompt":
        method_config: dict[str, Any] = {"num_virtual_tokens": PREFIX_LENGTH}
    else:
        method_config = {"prefix_length": PREFIX_LENGTH, "prefix_hidden_size": 16,
                         "reparameterization": method == "prefix", "init": "random"}
    return {
        "format_version": 1,
        "method": method,
        "form": form,
        "task_type": "text_classification",
        "base_model": {"model_type": "gpt2", "name_or_path": "tiny-gpt2", "fingerprint": "f00d",
                       "revision": None, "num_labels": 3},
        "method_config": method_config,
        "layout": None if method == "prompt" else LAYOUT,
        "hidden_size": HIDDEN_SIZE,
        "head": sorted(HEAD_SHAPES),
        "library_versions": {"torch": torch.__version__},
    }


def artifact_tensors(method: str, seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    main = ("prompt", (PREFIX_LENGTH, HIDDEN_SIZE)) if method == "prompt" else ("prefix", PREFIX_SHAPE)
    shapes = {main[0]: main[1], **{f"head.{name}": shape for name, shape in HEAD_SHAPES.items()}}
    return {name: torch.randn(*shape, generator=generator) for name, shape in shapes.items()}


def write_artifact(parent: Path, seed: int, form: str = "folded", method: str = "prefix") -> Path:
    """Write an artifact whose weights are determined by `seed` into a new dir under `parent`."""
    parent.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix=f"artifact-{seed}-", dir=parent))
    save_file(artifact_tensors(method, seed), str(directory / "prefix.safetensors"))
    config = artifact_config(method, form)
    (directory / "prefix_config.json").write_text(json.dumps(config, indent=2))
    return directory


def safetensors_bytes(header: dict[str, Any], data: bytes) -> bytes:
    """A safetensors file from a hand-written header, for headers no writer would produce."""
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


class DeadlineExceeded(Exception):
    """A registry call ran past its deadline (it would have hung)."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail the block with `DeadlineExceeded` after `seconds` instead of letting it hang."""

    def expire(signum: int, frame: object) -> None:
        raise DeadlineExceeded(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def record_loads(monkeypatch) -> list[Path]:
    """`prefixes.model.load_adapter`, which `prefixes.load` calls for a prefix artifact, replaced by a
    recorder (the registry verifies a version before it loads it)."""
    calls: list[Path] = []
    fake = types.ModuleType("prefixes.model")
    fake.load_adapter = lambda path, base_model=None: calls.append(Path(path))
    monkeypatch.setitem(sys.modules, "prefixes.model", fake)
    return calls
