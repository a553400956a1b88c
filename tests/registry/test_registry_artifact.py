"""Publish opens an artifact the way the loader does: config schema, safetensors header, tensors."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from registry_artifacts import safetensors_bytes, write_artifact
from safetensors import safe_open

from prefixes.registry import ArtifactError, Registry
from prefixes.registry.safetensors_header import read_header

REPO_ROOT = Path(__file__).resolve().parents[2]


def _loads_with_safetensors(path: Path) -> bool:
    try:
        with safe_open(str(path), framework="numpy") as handle:
            for name in handle.keys():
                handle.get_tensor(name)
    except Exception:  # safetensors raises several error types for damaged files
        return False
    return True


def _header_accepted(path: Path) -> bool:
    try:
        read_header(path)
    except ArtifactError:
        return False
    return True


def test_a_truncated_safetensors_file_is_refused_and_nothing_is_written(tmp_path):
    """A weights file cut to 100 bytes used to publish, verify 'ok' and promote."""
    artifact = write_artifact(tmp_path, seed=1)
    weights = artifact / "prefix.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    root = tmp_path / "reg"
    with pytest.raises(ArtifactError, match="prefix.safetensors would not load: its header claims"):
        Registry(root).publish(artifact, task="t", method="prefix")
    assert not root.exists()


def test_header_checks_accept_exactly_what_safetensors_loads(tmp_path):
    """Cut or damage a real file at random places: the registry agrees with safetensors each time."""
    original = (write_artifact(tmp_path, seed=1) / "prefix.safetensors").read_bytes()
    header_end = 8 + int.from_bytes(original[:8], "little")
    rng = random.Random(0)
    candidate = tmp_path / "candidate.safetensors"
    verdicts = []
    for trial in range(300):
        data = bytearray(original)
        if trial % 3 == 0:
            data = data[: rng.randrange(len(data))]
        elif trial % 3 == 1:
            data += bytes(rng.randrange(1, 9))
        else:  # a changed digit or quote inside the JSON header
            position = rng.randrange(8, header_end)
            data[position] = rng.choice(b'0123456789",[]{}')
        candidate.write_bytes(bytes(data))
        verdict = _header_accepted(candidate)
        assert verdict == _loads_with_safetensors(candidate), (trial, bytes(data[:header_end]))
        verdicts.append(verdict)
    assert 0 < sum(verdicts) < len(verdicts)  # both outcomes really occurred
    candidate.write_bytes(original)
    assert _header_accepted(candidate) and _loads_with_safetensors(candidate)


def _edit_config(artifact: Path, **changes: object) -> None:
    path = artifact / "prefix_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


@pytest.mark.parametrize(("edit", "message"), [
    (lambda a: _edit_config(a, hidden_size=16), r"'prompt' has shape \[4, 8\].*needs \[4, 16\]"),
    (lambda a: _edit_config(a, head=[]), r"unexpected tensors \['head.classifier.bias'"),
    (lambda a: _edit_config(a, head=["classifier.bias", "classifier.weight", "pooler.dense"]),
     r"missing tensors \['head.pooler.dense'\]"),
    (lambda a: _edit_config(a, method_config={"num_virtual_tokens": 5}), r"needs \[5, 8\]"),
    (lambda a: _edit_config(a, method_config={"num_virtual_tokens": 4, "typo": 1}),
     "typo: Extra inputs are not permitted"),
    (lambda a: _edit_config(a, unknown_key=1), "unknown_key: Extra inputs are not permitted"),
    (lambda a: _edit_config(a, format_version=2), "format_version 2, newer than the 1"),
    (lambda a: _edit_config(a, method="adapter"), "unknown method 'adapter': registered methods are"),
    (lambda a: (a / "prefix.safetensors").write_bytes(safetensors_bytes(
        {"prompt": {"dtype": "I32", "shape": [4, 8], "data_offsets": [0, 128]},
         "head.classifier.bias": {"dtype": "F32", "shape": [3], "data_offsets": [128, 140]},
         "head.classifier.weight": {"dtype": "F32", "shape": [3, 8], "data_offsets": [140, 236]}},
        bytes(236))), "tensor 'prompt' has dtype I32"),
])
def test_configs_and_tensors_that_would_not_load_are_refused(tmp_path, edit, message):
    artifact = write_artifact(tmp_path, seed=1, method="prompt")
    edit(artifact)
    with pytest.raises(ArtifactError, match=message):
        Registry(tmp_path / "reg").publish(artifact, task="t", method="prompt")
    assert not (tmp_path / "reg").exists()


def test_a_prefix_whose_shape_does_not_match_its_layout_is_refused(tmp_path):
    artifact = write_artifact(tmp_path, seed=1)
    layout = json.loads((artifact / "prefix_config.json").read_text())["layout"]
    _edit_config(artifact, layout={**layout, "head_dim": 8})
    with pytest.raises(ArtifactError, match=r"'prefix' has shape \[4, 2, 2, 2, 4\].*\[4, 2, 2, 2, 8\]"):
        Registry(tmp_path / "reg").publish(artifact, task="t", method="prefix")


@pytest.mark.parametrize("method", ["prefix", "prompt", "p_tuning_v2"])
def test_artifacts_written_by_save_pretrained_are_accepted(tmp_path, method):
    """The project's own registry holds real save_pretrained output of each method."""
    stored = sorted((REPO_ROOT / "registry").glob(f"*/{method}/v1"))
    if not stored:
        pytest.skip(f"no stored {method} version in the project registry")
    artifact = tmp_path / "artifact"
    artifact.mkdir()
    for name in ("prefix_config.json", "prefix.safetensors"):
        shutil.copyfile(stored[0] / name, artifact / name)
    entry = Registry(tmp_path / "reg").publish(artifact, task="t", method=method)
    assert entry.metadata.adapter_method == method
