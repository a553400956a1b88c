"""Publish, get, list, idempotency, aliases and overwrite protection of the Registry API."""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import time
from pathlib import Path

import pytest
from registry_artifacts import LAYOUT, write_artifact

from prefixes.registry import (
    ArtifactError,
    EntryNotFoundError,
    InvalidNameError,
    Registry,
    RegistryError,
)
from prefixes.registry import store as store_module


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    """An empty registry; its root does not exist until the first publish."""
    return Registry(tmp_path / "reg")


def test_publish_records_hashes_digest_and_artifact_fields(tmp_path, registry):
    source = write_artifact(tmp_path, seed=1)
    entry = registry.publish(source, task="sst2", method="prefix", metrics={"accuracy": 0.9},
                             training_params={"lr": 0.01}, dataset_fingerprint="data123")
    md = entry.metadata
    assert (md.task, md.method, md.version, md.schema_version) == ("sst2", "prefix", "v1", 2)
    assert entry.path == registry.root / "sst2" / "prefix" / "v1"
    expected = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in source.iterdir()}
    assert {f.name: f.sha256 for f in md.files} == expected
    sizes = {p.name: p.stat().st_size for p in source.iterdir()}
    assert {f.name: f.size for f in md.files} == sizes
    # The digest is computed independently here from the sorted (name, sha256) pairs.
    pairs = "".join(f"{name}\0{sha}\n" for name, sha in sorted(expected.items()))
    assert md.digest == hashlib.sha256(pairs.encode()).hexdigest()
    assert md.base_model.name_or_path == "tiny-gpt2" and md.base_model.fingerprint == "f00d"
    assert md.shape == {"layout": LAYOUT, "hidden_size": 8}
    assert md.method_config["prefix_length"] == 4 and md.adapter_method == "prefix"
    assert md.metrics == {"accuracy": 0.9} and md.training_params == {"lr": 0.01}
    assert md.dataset_fingerprint == "data123"
    assert md.dvc.lock_hash is None and "torch" in md.library_versions
    for name in expected:
        assert (entry.path / name).read_bytes() == (source / name).read_bytes()


def test_identical_content_gets_one_version_and_new_content_the_next(tmp_path, registry):
    first = registry.publish(write_artifact(tmp_path, seed=1), task="sst2", method="prefix")
    # Same bytes from another directory, with different provenance: still the same version.
    again = registry.publish(write_artifact(tmp_path, seed=1), task="sst2", method="prefix",
                             metrics={"accuracy": 0.5})
    other = registry.publish(write_artifact(tmp_path, seed=2), task="sst2", method="prefix")
    assert again.path == first.path and again.metadata == first.metadata
    assert other.metadata.version == "v2"
    assert [e.metadata.version for e in registry.list("sst2", "prefix")] == ["v1", "v2"]
    # Other namespaces are independent.
    elsewhere = registry.publish(write_artifact(tmp_path, seed=1), task="mnli", method="prefix")
    assert elsewhere.metadata.version == "v1"


def test_digest_ignores_time_and_provenance(tmp_path):
    one = Registry(tmp_path / "one").publish(
        write_artifact(tmp_path, seed=3), task="t", method="prefix"
    )
    two = Registry(tmp_path / "two").publish(
        write_artifact(tmp_path, seed=3), task="t", method="prefix-long", training_params={"steps": 9}
    )
    assert one.metadata.created_at != two.metadata.created_at
    assert one.metadata.digest == two.metadata.digest


def test_latest_is_the_highest_number_not_the_last_in_text_order(tmp_path, registry):
    for seed in range(11):
        registry.publish(write_artifact(tmp_path, seed=seed), task="t", method="prefix")
    assert registry.get("t", "prefix").metadata.version == "v11"
    assert registry.get("t", "prefix", "latest").path.name == "v11"
    assert registry.get("t", "prefix", "v2").metadata.version == "v2"
    assert [e.path.name for e in registry.list("t")][-3:] == ["v9", "v10", "v11"]
    with pytest.raises(EntryNotFoundError, match="v12"):
        registry.get("t", "prefix", "v12")
    with pytest.raises(EntryNotFoundError, match="no versions"):
        registry.get("t", "prompt")


def test_list_filters_by_task_and_method(tmp_path, registry):
    registry.publish(write_artifact(tmp_path, seed=1, method="prompt"), task="b", method="prompt")
    registry.publish(write_artifact(tmp_path, seed=2), task="a", method="prefix")
    registry.publish(write_artifact(tmp_path, seed=3, method="prompt"), task="a", method="prompt")
    refs = lambda entries: [e.ref for e in entries]  # noqa: E731
    assert refs(registry.list()) == ["a/prefix/v1", "a/prompt/v1", "b/prompt/v1"]
    assert refs(registry.list(task="a")) == ["a/prefix/v1", "a/prompt/v1"]
    assert refs(registry.list(method="prompt")) == ["a/prompt/v1", "b/prompt/v1"]
    assert registry.list(task="missing") == []


BAD_NAMES = ["..", "a/b", "/abs", "a\x00b", "", "a" * 200, "a\\b", "x..y", ".hidden", "UPPER"]


@pytest.mark.parametrize("bad", BAD_NAMES)
@pytest.mark.parametrize("field", ["task", "method"])
def test_unsafe_names_are_rejected_before_anything_is_written(tmp_path, field, bad):
    artifact = write_artifact(tmp_path, seed=1)
    root = tmp_path / "reg"
    names = {"task": "t", "method": "prefix", field: bad}
    with pytest.raises(InvalidNameError) as error:
        Registry(root).publish(artifact, **names)
    message = str(error.value)
    assert field in message and repr(bad) in message and "^[a-z0-9][a-z0-9_.-]{0,63}$" in message
    assert not root.exists()
    with pytest.raises(InvalidNameError):
        Registry(root).get(names["task"], names["method"])


def test_invalid_artifacts_are_refused_before_anything_is_written(tmp_path):
    root = tmp_path / "reg"
    with pytest.raises(ArtifactError, match="folded"):
        Registry(root).publish(
            write_artifact(tmp_path, seed=1, form="training"), task="t", method="prefix"
        )
    incomplete = write_artifact(tmp_path, seed=2)
    (incomplete / "prefix.safetensors").unlink()
    with pytest.raises(ArtifactError, match="missing prefix.safetensors"):
        Registry(root).publish(incomplete, task="t", method="prefix")
    with pytest.raises(RegistryError, match="metrics"):
        Registry(root).publish(write_artifact(tmp_path, seed=3), task="t", method="prefix",
                               metrics={"accuracy": "high"})
    assert not root.exists()


def test_an_existing_version_is_never_overwritten(tmp_path, registry, monkeypatch):
    first = registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix")
    stored = {p.name: p.read_bytes() for p in first.path.iterdir()}
    # A publisher with a stale view of the directory (as a writer bypassing the lock would have)
    # first tries v1 again; the rename must fail and the claim move on to v2.
    monkeypatch.setattr(store_module, "version_numbers", lambda namespace: set())
    second = registry.publish(write_artifact(tmp_path, seed=2), task="t", method="prefix")
    monkeypatch.undo()
    assert second.metadata.version == "v2" and second.path.name == "v2"
    assert {p.name: p.read_bytes() for p in first.path.iterdir()} == stored
    assert registry.verify().ok


def test_metadata_json_is_strict(tmp_path, registry):
    entry = registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix")
    path = entry.path / "metadata.json"
    data = json.loads(path.read_text())
    data["unexpected"] = 1
    path.write_text(json.dumps(data))
    with pytest.raises(RegistryError, match="unexpected"):
        registry.get("t", "prefix")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_metrics_are_refused_before_anything_is_written(tmp_path, value):
    root = tmp_path / "reg"
    registry = Registry(root)
    with pytest.raises(RegistryError, match=r"metric 'accuracy' is .*finite"):
        registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix",
                         metrics={"accuracy": value, "loss": 0.5})
    with pytest.raises(RegistryError, match=r"training_params.schedule\[1\] is not a finite"):
        registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix",
                         training_params={"schedule": [0.1, value]})
    assert not root.exists()
    # The namespace is still usable: the same artifact with a finite metric becomes v1.
    entry = registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix",
                             metrics={"accuracy": 0.5})
    assert entry.metadata.version == "v1" and registry.verify().ok
    assert [e.metadata.metrics for e in registry.list()] == [{"accuracy": 0.5}]


@pytest.mark.parametrize("umask", [0o002, 0o022, 0o077])
def test_every_file_and_directory_respects_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        registry = Registry(tmp_path / "reg")
        registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix")
        registry.publish(write_artifact(tmp_path, seed=2), task="t", method="prefix")
        registry.promote("t", "prefix", "v1", "production")
        namespace = registry.root / "t" / "prefix"
        then = time.time() - 60
        os.utime(namespace, (then, then))
        registry.get("t", "prefix")  # writes the latest cache
    finally:
        os.umask(previous)
    modes = {}
    for path in [registry.root, *registry.root.rglob("*")]:
        kind = "dir" if path.is_dir() else "file"
        modes.setdefault((kind, stat.S_IMODE(path.stat().st_mode)), []).append(path.name)
    assert {mode for mode in modes} == {("dir", 0o777 & ~umask), ("file", 0o666 & ~umask)}, modes
    for name in ("registry.json", ".gitignore", "aliases.json", ".lock", "t@prefix.digests",
                 "t@prefix.latest", "metadata.json", "prefix.safetensors"):
        assert name in modes[("file", 0o666 & ~umask)]


@pytest.mark.parametrize(("artifact_method", "method"), [
    ("prefix", "p_tuning_v2"), ("prefix", "prompt"), ("p_tuning_v2", "prefix"), ("prompt", "prefix"),
])
def test_an_artifact_is_refused_under_another_artifact_methods_name(tmp_path, artifact_method, method):
    root = tmp_path / "reg"
    artifact = write_artifact(tmp_path, seed=1, method=artifact_method)
    with pytest.raises(ArtifactError, match=f"as method '{method}': it holds a '{artifact_method}'"
                       f".*--method {artifact_method}"):
        Registry(root).publish(artifact, task="t", method=method)
    assert not root.exists()
    entry = Registry(root).publish(artifact, task="t", method=artifact_method)
    assert entry.metadata.adapter_method == artifact_method
    # A label that is not an artifact method's name stays free-form.
    assert Registry(root).publish(artifact, task="t", method="ablation-1").metadata.version == "v1"


def test_an_mlp_prefix_config_labelled_p_tuning_v2_is_refused(tmp_path):
    artifact = write_artifact(tmp_path, seed=1)
    config = json.loads((artifact / "prefix_config.json").read_text())
    config["method"] = "p_tuning_v2"  # method_config still says reparameterization: true
    (artifact / "prefix_config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match="says method 'p_tuning_v2', but its method_config is a 'prefix' config"):
        Registry(tmp_path / "reg").publish(artifact, task="t", method="p_tuning_v2")
    assert not (tmp_path / "reg").exists()
