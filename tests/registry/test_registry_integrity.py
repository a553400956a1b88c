"""Tampering, verify, schema migration and refusal, and provenance (git, dvc.lock)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
from registry_artifacts import deadline, write_artifact

from prefixes.registry import IntegrityError, Registry, RegistryError, SchemaVersionError
from prefixes.registry.dvc_lock import dvc_info
from prefixes.registry.metadata import GitInfo


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    """An empty registry; its root does not exist until the first publish."""
    return Registry(tmp_path / "reg")


@pytest.fixture
def loader_calls(monkeypatch) -> list[tuple[Path, object]]:
    """Replace `prefixes.model` with a recorder: `.load()` is observable without the model stack."""
    calls: list[tuple[Path, object]] = []

    def load_adapter(path, base_model=None):
        calls.append((Path(path), base_model))
        return "model"

    fake = types.ModuleType("prefixes.model")
    fake.load_adapter = load_adapter
    monkeypatch.setitem(sys.modules, "prefixes.model", fake)
    return calls


def test_load_verifies_then_calls_the_loader(tmp_path, registry, loader_calls):
    entry = registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix")
    base = object()
    assert registry.get("t", "prefix").load(base_model=base) == "model"
    assert loader_calls == [(entry.path, base)]


def test_a_flipped_byte_is_reported_and_load_refuses_before_the_loader(
    tmp_path, registry, loader_calls
):
    registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix")
    entry = registry.publish(write_artifact(tmp_path, seed=2), task="t", method="prefix")
    weights = entry.path / "prefix.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01  # same size, one bit different
    weights.write_bytes(bytes(data))

    report = registry.verify()
    assert not report.ok and report.entries_checked == 2
    assert [(p.entry, p.file) for p in report.problems] == [("t/prefix/v2", "prefix.safetensors")]
    recorded = {f.name: f.sha256 for f in entry.metadata.files}["prefix.safetensors"]
    assert report.problems[0].expected == f"sha256 {recorded}"
    with pytest.raises(IntegrityError, match="t/prefix/v2.*prefix.safetensors"):
        registry.get("t", "prefix", "v2").load()
    assert loader_calls == []
    with pytest.raises(IntegrityError):
        registry.promote("t", "prefix", "v2", "production")
    registry.get("t", "prefix", "v1").load()
    assert len(loader_calls) == 1


def test_verify_reports_missing_extra_moved_and_dangling(tmp_path, registry):
    registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix")
    v2 = registry.publish(write_artifact(tmp_path, seed=2), task="t", method="prefix")
    registry.promote("t", "prefix", "v2", "production")
    assert registry.verify().ok
    (v2.path / "prefix_config.json").unlink()
    (v2.path / "notes.txt").write_text("extra")
    # A version copied by hand under another number no longer matches its own metadata.
    shutil.copytree(registry.root / "t/prefix/v1", registry.root / "t/prefix/v3")
    aliases = registry.root / "t/prefix/aliases.json"
    aliases.write_text(aliases.read_text().replace('"production": "v2"', '"production": "v9"'))

    found = {(p.entry, p.file, p.actual) for p in registry.verify().problems}
    assert found == {
        ("t/prefix/v2", "notes.txt", "unexpected file"),
        ("t/prefix/v2", "prefix_config.json", "missing"),
        ("t/prefix/v3", "metadata.json", "version v1"),
        ("t/prefix", "aliases.json", "production -> missing v9"),
    }


def _as_schema_v1(metadata: dict) -> dict:
    """What the first schema wrote: flat git fields and no DVC block."""
    legacy = {k: v for k, v in metadata.items() if k not in ("git", "dvc")}
    return {**legacy, "schema_version": 1, "git_commit": "abc123", "git_dirty": True}


def test_schema_v1_metadata_is_migrated_on_read_and_left_untouched(tmp_path, registry):
    entry = registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix")
    path = entry.path / "metadata.json"
    path.write_text(json.dumps(_as_schema_v1(json.loads(path.read_text()))))
    on_disk = path.read_bytes()

    migrated = registry.get("t", "prefix").metadata
    assert migrated.schema_version == 2
    assert (migrated.git.commit, migrated.git.dirty) == ("abc123", True)
    assert (migrated.dvc.stage, migrated.dvc.lock_hash) == (None, None)
    assert migrated.digest == entry.metadata.digest
    assert path.read_bytes() == on_disk  # versions are immutable, migration happens in memory
    assert registry.verify().ok


def test_newer_metadata_schema_is_refused_with_upgrade_advice(tmp_path, registry):
    entry = registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix")
    path = entry.path / "metadata.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "schema_version": 3}))
    with pytest.raises(SchemaVersionError, match="schema_version 3.*up to 2.*upgrade prefixes"):
        registry.get("t", "prefix")
    problems = registry.verify().problems
    assert [(p.entry, p.file) for p in problems] == [("t/prefix/v1", "metadata.json")]


def test_newer_layout_is_refused(tmp_path):
    (tmp_path / "registry.json").write_text(json.dumps({"layout_version": 2}))
    with pytest.raises(SchemaVersionError, match="layout_version 2.*upgrade prefixes"):
        Registry(tmp_path)


DVC_LOCK = """\
schema: '2.0'
stages:
  prepare:
    cmd: prefixes prepare
  train-prefix@sst2:
    cmd: prefixes train --task sst2
    deps:
    - path: data/sst2
      md5: a1b2
    outs:
    - path: out/sst2
      md5: c3d4
"""


def test_dvc_lock_hash_is_the_sha256_of_the_stage_entry(registry, tmp_path):
    lock = tmp_path / "dvc.lock"
    lock.write_text(DVC_LOCK)
    entry = registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix",
                             dvc=dvc_info(lock, "train-prefix@sst2"))
    stage = {"cmd": "prefixes train --task sst2", "deps": [{"path": "data/sst2", "md5": "a1b2"}],
             "outs": [{"path": "out/sst2", "md5": "c3d4"}]}
    canonical = json.dumps(stage, sort_keys=True, separators=(",", ":"))
    assert entry.metadata.dvc.stage == "train-prefix@sst2"
    assert entry.metadata.dvc.lock_hash == hashlib.sha256(canonical.encode()).hexdigest()

    with pytest.raises(RegistryError, match="'train-prompt@sst2' is not in .*prepare"):
        dvc_info(lock, "train-prompt@sst2")
    with pytest.raises(RegistryError, match="both"):
        dvc_info(lock, None)
    assert [e.path.name for e in registry.list("t")] == ["v1"]


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout.strip()


def test_git_commit_and_dirty_flag_come_from_the_working_directory(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "train.py").write_text("print(1)\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "init")
    head = _git(repo, "rev-parse", "HEAD")
    monkeypatch.chdir(repo)
    registry = Registry(repo / "registry")  # inside the repo, as the project's registry/ is

    def publish_git(seed: int, into: Registry = registry) -> GitInfo:
        return into.publish(write_artifact(tmp_path, seed), task="t", method="prefix").metadata.git

    clean = publish_git(1)
    # The untracked version just published must not make the next publish look dirty.
    still_clean = publish_git(2)
    (repo / "train.py").write_text("print(2)\n")
    dirty = publish_git(3)
    assert (clean.commit, clean.dirty) == (head, False)
    assert (still_clean.commit, still_clean.dirty) == (head, False)
    assert (dirty.commit, dirty.dirty) == (head, True)

    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.chdir(outside)
    no_repo = publish_git(4, Registry(tmp_path / "reg"))
    assert (no_repo.commit, no_repo.dirty) == (None, None)


def _add_file_record(entry_path: Path, name: str, sha256: str, size: int) -> None:
    path = entry_path / "metadata.json"
    data = json.loads(path.read_text())
    data["files"].append({"name": name, "sha256": sha256, "size": size})
    path.write_text(json.dumps(data))


def test_file_names_that_leave_the_entry_are_refused_before_any_read(
    tmp_path, registry, loader_calls
):
    """`../../../../dev/zero` made verify and promote hang; a real outside file verified 'ok'."""
    registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix")
    v2 = registry.publish(write_artifact(tmp_path, seed=2), task="t", method="prefix")
    outside = tmp_path / "hostname"
    outside.write_text("host\n")
    sha = hashlib.sha256(outside.read_bytes()).hexdigest()
    # From v2, "../../../../hostname" is tmp_path/hostname: it exists and its hash is true.
    _add_file_record(v2.path, "../../../../hostname", sha, outside.stat().st_size)
    _add_file_record(registry.root / "t/prefix/v1", "../../../../dev/zero", "0" * 64, 10)

    with deadline(10):
        report = registry.verify()
        with pytest.raises(RegistryError, match=r"invalid file name '\.\./\.\./\.\./\.\./dev/zero'"):
            registry.promote("t", "prefix", "v1", "production")
        with pytest.raises(RegistryError, match="invalid file name"):
            registry.get("t", "prefix", "v2").load()
    assert not report.ok
    assert {(p.entry, p.file) for p in report.problems} == {
        ("t/prefix/v1", "metadata.json"), ("t/prefix/v2", "metadata.json")}
    assert all("invalid file name" in p.actual for p in report.problems)
    assert loader_calls == []
    assert not (registry.root / "t/prefix/aliases.json").exists()


def test_symlinked_entries_and_files_are_reported_and_never_read(tmp_path, registry, loader_calls):
    v1 = registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix")
    registry.publish(write_artifact(tmp_path, seed=2), task="t", method="prefix")
    # v1's weights become a link to an outside copy with the same bytes (hash would match), and
    # its config a link to /dev/zero, which a plain read never finishes.
    copy = tmp_path / "outside.safetensors"
    shutil.copyfile(v1.path / "prefix.safetensors", copy)
    (v1.path / "prefix.safetensors").unlink()
    (v1.path / "prefix.safetensors").symlink_to(copy)
    (v1.path / "prefix_config.json").unlink()
    (v1.path / "prefix_config.json").symlink_to("/dev/zero")
    # v3 is a whole version linked to v2; v4's metadata.json is a named pipe.
    (registry.root / "t/prefix/v3").symlink_to(registry.root / "t/prefix/v2")
    shutil.copytree(registry.root / "t/prefix/v2", registry.root / "t/prefix/v4")
    (registry.root / "t/prefix/v4/metadata.json").unlink()
    os.mkfifo(registry.root / "t/prefix/v4/metadata.json")

    with deadline(10):
        found = {(p.entry, p.file, p.actual) for p in registry.verify().problems}
        with pytest.raises(IntegrityError, match="symbolic link"):
            registry.get("t", "prefix", "v1").load()
        with pytest.raises(IntegrityError, match="v3 is a symbolic link"):
            registry.get("t", "prefix", "v3")
        with pytest.raises(IntegrityError, match="named pipe"):
            registry.get("t", "prefix", "v4")
    assert ("t/prefix/v1", "prefix.safetensors", "symbolic link") in found
    assert ("t/prefix/v1", "prefix_config.json", "symbolic link") in found
    assert ("t/prefix/v3", "", "symbolic link") in found
    assert any(entry == "t/prefix/v4" and "named pipe" in actual for entry, _, actual in found)
    assert loader_calls == []


def test_one_corrupt_metadata_json_does_not_hide_the_other_versions(tmp_path, registry):
    for seed in (1, 2, 3):
        registry.publish(write_artifact(tmp_path, seed=seed), task="t", method="prefix")
    (registry.root / "t/prefix/v2/metadata.json").write_text("{not json")
    listing = registry.scan()
    assert [e.path.name for e in listing.entries] == ["v1", "v3"]
    assert [(p.entry, p.file) for p in listing.problems] == [("t/prefix/v2", "metadata.json")]
    assert "not valid JSON" in listing.problems[0].actual
    with pytest.raises(RegistryError, match="1 unreadable versions.*t/prefix/v2: .*not valid JSON"):
        registry.list()


def test_nan_written_into_metadata_by_hand_is_reported_not_read_as_a_number(tmp_path, registry):
    entry = registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix",
                             metrics={"accuracy": 0.5})
    path = entry.path / "metadata.json"
    path.write_text(path.read_text().replace('"accuracy": 0.5', '"accuracy": NaN'))
    with pytest.raises(RegistryError, match="metrics.accuracy: Input should be a finite number"):
        registry.get("t", "prefix")
