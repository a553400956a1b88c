"""The registry's look-up caches and staging: a cache may only speed a look-up, never change its answer."""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import zlib
from pathlib import Path

import pytest
from registry_artifacts import write_artifact

from prefixes.registry import (
    Registry,
)


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    """An empty registry; its root does not exist until the first publish."""
    return Registry(tmp_path / "reg")


def test_stale_staging_dirs_of_dead_publishers_are_cleaned_after_a_minute(tmp_path, registry):
    registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix")
    staging = registry.root / ".staging"

    def fake_publisher(name: str, age_s: float) -> Path:
        """A staging dir and its lock file, as a publisher leaves them, `age_s` seconds old."""
        (staging / name).mkdir()
        (staging / name / "prefix.safetensors").write_bytes(b"partial")
        lock = staging / f"{name}.lock"
        lock.touch()
        then = time.time() - age_s
        os.utime(lock, (then, then))
        return staging / name

    dead_old = fake_publisher("publish-dead", age_s=120)
    dead_young = fake_publisher("publish-young", age_s=5)
    alive_old = fake_publisher("publish-alive", age_s=120)
    held = os.open(staging / "publish-alive.lock", os.O_RDWR)
    fcntl.flock(held, fcntl.LOCK_EX)  # a slow publisher that is still running
    try:
        assert [e.path.name for e in registry.list("t")] == ["v1"]  # readers ignore staging
        registry.publish(write_artifact(tmp_path, seed=2), task="t", method="prefix")
    finally:
        os.close(held)
    assert not dead_old.exists() and not (staging / "publish-dead.lock").exists()
    assert dead_young.exists() and alive_old.exists()
    assert [e.path.name for e in registry.list("t")] == ["v1", "v2"]


def test_duplicates_are_found_when_the_digest_cache_lags_or_is_corrupt(tmp_path, registry):
    registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix")
    second = registry.publish(write_artifact(tmp_path, seed=2), task="t", method="prefix")
    cache = registry.root / ".cache" / "t@prefix.digests"
    lines = cache.read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["1", "2"]
    # A publisher killed after its rename but before recording the digest leaves the cache behind.
    cache.write_text(lines[0] + "\n")
    again = registry.publish(write_artifact(tmp_path, seed=2), task="t", method="prefix")
    assert again.path == second.path
    # A line torn by a crash, then garbage: both are ignored and the versions read again.
    cache.write_text(lines[0][:20] + "garbage\n")
    for seed, version in ((1, "v1"), (2, "v2")):
        entry = registry.publish(write_artifact(tmp_path, seed=seed), task="t", method="prefix")
        assert entry.path.name == version
    assert [e.path.name for e in registry.list("t")] == ["v1", "v2"]


def test_cached_latest_is_invalidated_by_any_change_to_the_versions(tmp_path, registry):
    registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix")
    registry.publish(write_artifact(tmp_path, seed=2), task="t", method="prefix")
    namespace = registry.root / "t" / "prefix"
    cache = registry.root / ".cache" / "t@prefix.latest"

    def age_listing() -> None:
        """Make the directory's last change old enough for its listing to be cached."""
        then = time.time() - 60
        os.utime(namespace, (then, then))

    assert registry.get("t", "prefix").path.name == "v2"
    assert not cache.exists()  # a listing changed just now is never cached
    age_listing()
    assert registry.get("t", "prefix").path.name == "v2"
    assert cache.read_text().split()[1] == "2"
    registry.publish(write_artifact(tmp_path, seed=3), task="t", method="prefix")
    assert registry.get("t", "prefix").path.name == "v3"
    age_listing()
    assert registry.get("t", "prefix").path.name == "v3"
    # Versions removed or arriving by other means (git checkout, git pull) change the mtime too.
    shutil.rmtree(namespace / "v3")
    assert registry.get("t", "prefix").path.name == "v2"
    age_listing()
    registry.get("t", "prefix")
    shutil.copytree(namespace / "v2", namespace / "v7")  # v7 arrives (its metadata names it v7)
    metadata = namespace / "v7" / "metadata.json"
    metadata.write_text(metadata.read_text().replace('"version": "v2"', '"version": "v7"'))
    assert registry.get("t", "prefix").path.name == "v7"


def test_publish_after_a_checkout_never_returns_a_version_holding_other_content(tmp_path):
    """Branch A stores a1 as v1, branch B stores a2 as v1; the cache survives the checkouts."""
    registry = Registry(tmp_path / "reg")
    a1, a2 = write_artifact(tmp_path, seed=1), write_artifact(tmp_path, seed=2)
    namespace = registry.root / "t" / "prefix"
    registry.publish(a1, task="t", method="prefix")
    branch_a = tmp_path / "branch-a"
    shutil.copytree(namespace, branch_a)
    shutil.rmtree(namespace / "v1")  # checkout of branch B, where v1 holds a2
    assert registry.publish(a2, task="t", method="prefix").path.name == "v1"
    shutil.rmtree(namespace)  # back to branch A (copytree keeps mtimes, as a fast checkout can)
    shutil.copytree(branch_a, namespace)

    entry = registry.publish(a2, task="t", method="prefix")
    assert entry.path.name == "v2"
    assert (entry.path / "prefix.safetensors").read_bytes() == (a2 / "prefix.safetensors").read_bytes()
    assert registry.publish(a1, task="t", method="prefix").path.name == "v1"
    assert registry.verify().ok


def test_a_wrong_digest_cache_line_never_duplicates_or_misreports_a_version(tmp_path, registry):
    first = registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix")
    second = registry.publish(write_artifact(tmp_path, seed=2), task="t", method="prefix")
    cache = registry.root / ".cache" / "t@prefix.digests"
    lines = cache.read_text().splitlines()
    digest1, digest2 = first.metadata.digest, second.metadata.digest
    # Hand-swapped digests (stamps kept, checksums now wrong), then a forged line whose checksum
    # matches: neither may make a publish return the other version or store a duplicate.
    cache.write_text(lines[0].replace(digest1, digest2) + "\n" + lines[1].replace(digest2, digest1))
    assert registry.publish(write_artifact(tmp_path, seed=2), task="t", method="prefix").path.name == "v2"
    assert registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix").path.name == "v1"
    number, _, stamp, _ = lines[0].split()
    body = f"{number} {digest2} {stamp}"
    cache.write_text(f"{body} {zlib.crc32(body.encode()):08x}\n{lines[1]}\n")
    assert registry.publish(write_artifact(tmp_path, seed=2), task="t", method="prefix").path.name == "v2"
    assert [e.path.name for e in registry.list("t")] == ["v1", "v2"]
