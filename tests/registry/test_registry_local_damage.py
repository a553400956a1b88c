"""Reads confirm what they serve, and local damage never blocks the healthy part (issue 28 items
1, 5, 6 and 11)."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from registry_artifacts import record_loads, write_artifact

from prefixes.cli.registry import registry as cli
from prefixes.registry import IntegrityError, Registry


@pytest.fixture
def loaded(monkeypatch) -> list[Path]:
    return record_loads(monkeypatch)


def _publish(registry: Registry, tmp_path: Path, seeds, task: str = "t", method: str = "prefix") -> None:
    for seed in seeds:
        registry.publish(write_artifact(tmp_path / "in", seed), task=task, method=method)


def test_a_swapped_or_copied_version_folder_is_never_served_as_another_version(tmp_path, loaded):
    """Item 1: swap v1 and v2 (a bad merge) and the alias served the other weights with every hash
    passing; copy task u's folder into task t and `get t latest` returned u's prefix."""
    registry = Registry(tmp_path / "reg")
    _publish(registry, tmp_path, (1, 2))
    _publish(registry, tmp_path, (3,), task="u")
    registry.promote("t", "prefix", "v1", "candidate")
    namespace = registry.root / "t" / "prefix"
    os.rename(namespace / "v1", namespace / "swap")
    os.rename(namespace / "v2", namespace / "v1")
    os.rename(namespace / "swap", namespace / "v2")
    shutil.copytree(registry.root / "u" / "prefix" / "v1", namespace / "v3")

    for version, found in (("candidate", "version v2"), ("v2", "version v1"), ("latest", "task u")):
        with pytest.raises(IntegrityError, match=f"t/prefix/v.: metadata.json: expected .*, found {found}"):
            registry.get("t", "prefix", version)
    with pytest.raises(IntegrityError, match="is not the version its folder names"):
        registry.promote("t", "prefix", "v2", "production")
    listing = registry.scan("t")
    assert listing.entries == [] and [p.entry for p in listing.problems] == ["t/prefix/v1", "t/prefix/v2", "t/prefix/v3"]
    assert loaded == []
    result = CliRunner().invoke(cli, ["show", "t", "--method", "prefix", "--version", "candidate",
                                      "--registry", str(registry.root)])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: t/prefix/v1 is not the version its folder names (t/prefix/v1: "
                                    "metadata.json: expected version v1, found version v2)")


def test_symlinked_task_and_method_folders_are_not_followed(tmp_path):
    """Item 5: `list`, `show` and `get` read through a linked task or method folder; verify said ok."""
    registry = Registry(tmp_path / "reg")
    _publish(registry, tmp_path, (1,))
    outside = tmp_path / "outside"
    _publish(Registry(outside), tmp_path, (2,), task="x")
    (registry.root / "linked").symlink_to(outside / "x")  # a task folder that is a link
    (registry.root / "t" / "p_tuning_v2").symlink_to(outside / "x" / "prefix")  # a method folder

    with pytest.raises(IntegrityError, match=r"reg/linked is a symbolic link; the registry reads only inside"):
        registry.get("linked", "prefix")
    with pytest.raises(IntegrityError, match=r"reg/t/p_tuning_v2 is a symbolic link"):
        registry.get("t", "p_tuning_v2")
    listing = registry.scan()
    assert [e.ref for e in listing.entries] == ["t/prefix/v1"]
    assert [p.entry for p in listing.problems] == ["linked", "t/p_tuning_v2"]
    assert all(p.actual.endswith("is a symbolic link; the registry reads only inside "
                                 f"{registry.root}: replace it with a real directory") for p in listing.problems)
    report = registry.verify()
    assert not report.ok and {p.entry for p in report.problems} == {"linked", "t/p_tuning_v2"}
    result = CliRunner().invoke(cli, ["list", "--registry", str(registry.root)])
    assert result.exit_code == 1 and result.stdout.split()[0] == "t/prefix/v1"
    assert result.stderr.splitlines() == [
        f"broken: linked: {registry.root}/linked is a symbolic link; the registry reads only inside "
        f"{registry.root}: replace it with a real directory",
        f"broken: t/p_tuning_v2: {registry.root}/t/p_tuning_v2 is a symbolic link; the registry reads "
        f"only inside {registry.root}: replace it with a real directory"]


def test_an_unwritable_lookup_cache_never_fails_a_publish(tmp_path):
    """Item 6: a cache that could not be written failed the publish after the version existed, and
    every later publish. (Run as root here, so the cache files are made directories, which no user
    can write as files.)"""
    registry = Registry(tmp_path / "reg")
    _publish(registry, tmp_path, (1,))
    cache = registry.root / ".cache"
    for name in ("t@prefix.digests", "t@prefix.latest"):
        (cache / name).unlink(missing_ok=True)
        (cache / name).mkdir()
    os.chmod(cache, 0o555)  # and read-only for anyone but root
    try:
        second = registry.publish(write_artifact(tmp_path / "in", 2), task="t", method="prefix")
        third = registry.publish(write_artifact(tmp_path / "in", 3), task="t", method="prefix")
        again = registry.publish(write_artifact(tmp_path / "in", 2), task="t", method="prefix")
    finally:
        os.chmod(cache, 0o755)
    assert [second.path.name, third.path.name, again.path.name] == ["v2", "v3", "v2"]
    assert registry.get("t", "prefix").path.name == "v3" and registry.verify().ok


def test_a_directory_at_a_staging_lock_is_named_and_never_blocks_a_publish(tmp_path, caplog):
    """Item 11: `.staging/x.lock` as a directory stopped every publish with IsADirectoryError."""
    registry = Registry(tmp_path / "reg")
    _publish(registry, tmp_path, (1,))
    stray = registry.root / ".staging" / "x.lock"
    stray.mkdir()
    os.utime(stray, (0, 0))
    with caplog.at_level(logging.WARNING, logger="prefixes.registry"):
        entry = registry.publish(write_artifact(tmp_path / "in", 2), task="t", method="prefix")
    assert entry.path.name == "v2" and stray.is_dir()
    assert f"{stray} is a directory, not a publisher's lock file; it was left alone: remove it" in caplog.text


def test_a_stray_empty_version_folder_is_named_and_never_blocks_latest(tmp_path):
    """Item 11: an empty `v7` (left by a checkout or a copy) made `get latest` fail for everyone."""
    registry = Registry(tmp_path / "reg")
    _publish(registry, tmp_path, (1, 2))
    (registry.root / "t" / "prefix" / "v7").mkdir()
    assert registry.get("t", "prefix").path.name == "v2"
    assert registry.promote("t", "prefix", "latest", "production").to_version == "v2"
    listing = registry.scan()
    assert [e.path.name for e in listing.entries] == ["v1", "v2"]
    assert [p.entry for p in listing.problems] == ["t/prefix/v7"]
    assert [p.entry for p in registry.verify().problems] == ["t/prefix/v7"]
    assert registry.publish(write_artifact(tmp_path / "in", 3), task="t", method="prefix").path.name == "v8"
    assert registry.get("t", "prefix").path.name == "v8"


@pytest.mark.parametrize("garbage", [b"{", b"[]", b'{"aliases": []}', b"\0\0"])
def test_promote_repairs_a_garbage_alias_file_and_show_still_answers(tmp_path, caplog, garbage):
    """Item 11: a garbage aliases.json blocked `show` of every version and `promote`, the command
    meant to repair it."""
    registry = Registry(tmp_path / "reg")
    _publish(registry, tmp_path, (1, 2))
    aliases = registry.root / "t" / "prefix" / "aliases.json"
    aliases.write_bytes(garbage)
    shown = CliRunner().invoke(cli, ["show", "t", "--method", "prefix", "--version", "v2",
                                     "--registry", str(registry.root), "--json"])
    assert shown.exit_code == 1 and json.loads(shown.stdout)["version"] == "v2"
    assert shown.stderr.startswith(f"broken: t/prefix: {aliases} is not a valid aliases file")
    with caplog.at_level(logging.WARNING, logger="prefixes.registry"):
        event = registry.promote("t", "prefix", "v2", "production")
    assert (event.from_version, event.to_version) == (None, "v2")
    assert registry.aliases("t", "prefix").aliases == {"production": "v2"}
    kept = [p for p in aliases.parent.iterdir() if p.name.startswith("aliases.json.damaged-")]
    assert len(kept) == 1 and kept[0].read_bytes() == garbage
    assert f"{aliases} was unreadable" in caplog.text and kept[0].name in caplog.text
    assert registry.get("t", "prefix", "production").path.name == "v2" and registry.verify().ok
