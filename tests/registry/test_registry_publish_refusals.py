"""What publish refuses before a version becomes visible (issue 28 items 2, 3, 4 and 14).

A version is immutable and `latest` points at it the moment it appears, so anything that could
never be read, loaded or cloned again must be refused first, with nothing left in the registry.
"""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from click.testing import CliRunner
from registry_artifacts import HEAD_SHAPES, HIDDEN_SIZE, PREFIX_LENGTH, deadline, write_artifact

from prefixes.cli.registry import registry as cli
from prefixes.registry import ArtifactError, Registry, RegistryError
from prefixes.registry.reading import MAX_DOCUMENT_BYTES

SHAPES = {"prompt": [PREFIX_LENGTH, HIDDEN_SIZE],
          **{f"head.{name}": list(shape) for name, shape in HEAD_SHAPES.items()}}


def _weights(header_text: bytes, data: bytes) -> bytes:
    return struct.pack("<Q", len(header_text)) + header_text + data


def _tensors(values: dict[str, np.ndarray]) -> tuple[dict, bytes]:
    """A safetensors header (as a dict) and data section for float32 `values`, in name order."""
    header, data = {}, b""
    for name in sorted(values):
        raw = values[name].astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(values[name].shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    return header, data


def _random_values(**overrides: np.ndarray) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {name: rng.standard_normal(shape).astype("float32") for name, shape in SHAPES.items()} | overrides


def _header_text(**extra: object) -> tuple[bytes, bytes]:
    header, data = _tensors(_random_values())
    return json.dumps({**extra, **header}).encode(), data


def _bom() -> bytes:
    text, data = _header_text()
    return _weights(b"\xef\xbb\xbf" + text, data)


def _utf16() -> bytes:
    text, data = _header_text()
    return _weights(text.decode().encode("utf-16"), data)


def _metadata_int() -> bytes:
    return _weights(*_header_text(__metadata__={"epochs": 3}))


def _bare_nan() -> bytes:
    text, data = _header_text(__metadata__={"loss": "x"})
    return _weights(text.replace(b'"x"', b"NaN"), data)


def _all_nan() -> bytes:
    return _weights_of(_random_values(prompt=np.full(SHAPES["prompt"], np.nan, dtype="float32")))


def _infinite() -> bytes:
    bias = np.array([1.0, np.inf, 0.5], dtype="float32")
    return _weights_of(_random_values(**{"head.classifier.bias": bias}))


def _zero_size_head() -> bytes:
    return _weights_of(_random_values(**{"head.classifier.weight": np.zeros((0, HIDDEN_SIZE), "float32")}))


def _weights_of(values: dict[str, np.ndarray]) -> bytes:
    header, data = _tensors(values)
    return _weights(json.dumps(header).encode(), data)


@pytest.mark.parametrize(("write", "message"), [
    (_bom, "its header starts with a UTF-8 byte-order mark"),
    (_utf16, "its header is not UTF-8"),
    (_metadata_int, r"__metadata__ must map names to strings, 'epochs' is 3"),
    (_bare_nan, r"its header is not valid JSON \(it holds a bare NaN\)"),
    (_all_nan, r"tensor 'prompt' holds 32 NaN or infinite values of 32"),
    (_infinite, r"tensor 'head.classifier.bias' holds 1 NaN or infinite values of 3"),
    (_zero_size_head, r"tensor 'head.classifier.weight' has shape \[0, 8\], which holds no values"),
])
def test_weights_the_safetensors_loader_refuses_or_non_finite_are_refused_at_publish(tmp_path, write, message):
    """Item 3: these all published, became `latest` and could be promoted; none could be used."""
    artifact = write_artifact(tmp_path, seed=1, method="prompt")
    (artifact / "prefix.safetensors").write_bytes(write())
    root = tmp_path / "reg"
    with pytest.raises(ArtifactError, match=message):
        Registry(root).publish(artifact, task="t", method="prompt")
    assert not root.exists()


def test_the_safetensors_loader_itself_refuses_the_header_shapes_publish_refuses(tmp_path):
    """The header cases above are refused by `safetensors` too: publish agrees with the real loader."""
    from safetensors import safe_open

    for write in (_bom, _utf16, _metadata_int, _bare_nan):
        path = tmp_path / f"{write.__name__}.safetensors"
        path.write_bytes(write())
        with pytest.raises(Exception, match="header"), safe_open(str(path), framework="numpy") as handle:
            handle.keys()


def test_metadata_over_the_size_limit_is_refused_before_anything_is_written(tmp_path):
    """Item 2: a huge training-params document became `latest`, then `show` and `get` failed."""
    root = tmp_path / "reg"
    params = {"notes": "x" * MAX_DOCUMENT_BYTES}
    with pytest.raises(RegistryError, match=r"metadata\.json would be 67,1\d\d,\d\d\d bytes, over the "
                                            r"64 MiB limit: training_params takes 67,108,8\d\d"):
        Registry(root).publish(write_artifact(tmp_path, 1), task="t", method="prefix", training_params=params)
    assert not root.exists()


@pytest.mark.parametrize("name", [".lock", ".tmp-a1b2", ".gitignore", ".DS_Store"])
def test_hidden_artifact_files_that_git_would_drop_are_refused(tmp_path, name):
    """Item 4: `.lock`, `.tmp-*` and a `.gitignore` of `*` were copied into the version, then hidden
    from git by the registry's own ignore rules: a clone held an incomplete or missing version."""
    artifact = write_artifact(tmp_path, seed=1)
    (artifact / name).write_text("*\n")
    root = tmp_path / "reg"
    with pytest.raises(ArtifactError, match=rf"{name}' cannot be published: hidden names \(starting with "
                                            r"'\.'\) are kept out of git"):
        Registry(root).publish(artifact, task="t", method="prefix")
    assert not root.exists()


def test_a_yaml_alias_bomb_as_training_params_is_refused_quickly(tmp_path):
    """Item 14: a 520-byte document of nested aliases expanded to billions of values and hung publish."""
    levels = [f'l{i}: &l{i} [{", ".join([f"*l{i - 1}"] * 9)}]' for i in range(1, 10)]
    bomb = tmp_path / "params.yaml"
    bomb.write_text("\n".join(['l0: &l0 ["lol"]', *levels]) + "\n")
    assert len(bomb.read_bytes()) < 600
    root = tmp_path / "reg"
    with deadline(5):
        result = CliRunner().invoke(cli, ["publish", str(write_artifact(tmp_path, 1)), "--registry", str(root),
                                          "--task", "t", "--method", "prefix", "--training-params", str(bomb)])
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().splitlines() == [
        f"Error: training params file {bomb} uses the YAML alias '*l0' (line 2); aliases are not "
        "accepted here: write the values out"]
    assert not root.exists()


def test_a_training_params_file_over_the_metadata_limit_is_refused_before_parsing(tmp_path):
    """Item 2 through the command line: the file is not even parsed."""
    params = tmp_path / "params.json"
    with open(params, "wb") as handle:
        handle.truncate(MAX_DOCUMENT_BYTES + 1)
    with deadline(5):
        result = CliRunner().invoke(cli, ["publish", str(write_artifact(tmp_path, 1)), "--registry",
                                          str(tmp_path / "reg"), "--task", "t", "--method", "prefix",
                                          "--training-params", str(params)])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: training params file {params} is 67,108,865 bytes, over the 64 MiB limit of a "
        "version's metadata.json; publish a smaller file")
