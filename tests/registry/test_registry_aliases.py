"""Aliases: names that point at versions, their history, and targets that are not versions."""

from __future__ import annotations

from pathlib import Path

import pytest
from registry_artifacts import write_artifact

from prefixes.registry import (
    EntryNotFoundError,
    InvalidNameError,
    Registry,
    RegistryError,
)


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    """An empty registry; its root does not exist until the first publish."""
    return Registry(tmp_path / "reg")


def test_aliases_resolve_and_keep_full_history(tmp_path, registry):
    registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix")
    registry.publish(write_artifact(tmp_path, seed=2), task="t", method="prefix")
    created = registry.promote("t", "prefix", "v1", "production", by="alice@ci")
    moved = registry.promote("t", "prefix", "latest", "production", by="bob@ci")
    registry.promote("t", "prefix", "production", "staging", by="bob@ci")
    registry.publish(write_artifact(tmp_path, seed=3), task="t", method="prefix")

    assert (created.from_version, created.to_version) == (None, "v1")
    assert (moved.from_version, moved.to_version) == ("v1", "v2")
    assert registry.get("t", "prefix", "production").metadata.version == "v2"
    assert registry.get("t", "prefix", "staging").metadata.version == "v2"
    assert registry.get("t", "prefix").metadata.version == "v3"  # aliases never follow latest
    state = registry.aliases("t", "prefix")
    assert state.aliases == {"production": "v2", "staging": "v2"}
    assert [(e.alias, e.from_version, e.to_version, e.by) for e in state.history] == [
        ("production", None, "v1", "alice@ci"),
        ("production", "v1", "v2", "bob@ci"),
        ("staging", None, "v2", "bob@ci"),
    ]
    assert state.history[0].at <= state.history[1].at <= state.history[2].at


@pytest.mark.parametrize("alias", ["latest", "v3", "v0", "v01", "Prod", "../x"])
def test_alias_names_that_would_be_ambiguous_or_unsafe_are_refused(tmp_path, registry, alias):
    registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix")
    with pytest.raises(InvalidNameError, match="alias"):
        registry.promote("t", "prefix", "v1", alias)
    assert not (registry.root / "t" / "prefix" / "aliases.json").exists()


def test_promoting_a_missing_version_fails_and_writes_nothing(tmp_path, registry):
    registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix")
    with pytest.raises(EntryNotFoundError):
        registry.promote("t", "prefix", "v7", "production")
    with pytest.raises(EntryNotFoundError, match="aliases: none"):
        registry.get("t", "prefix", "production")
    assert not (registry.root / "t" / "prefix" / "aliases.json").exists()


@pytest.mark.parametrize("target", ["/elsewhere/evil", "../../../outside/evil", "v1/../../x", "v9"])
def test_alias_targets_that_are_not_versions_are_refused_and_nothing_is_written_outside(
    tmp_path, target
):
    root = tmp_path / "world" / "reg"
    registry = Registry(root)
    registry.publish(write_artifact(tmp_path, seed=1), task="t", method="prefix")
    registry.promote("t", "prefix", "v1", "production")
    aliases = root / "t" / "prefix" / "aliases.json"
    aliases.write_text(aliases.read_text().replace('"production": "v1"', f'"production": "{target}"'))
    before = sorted(str(p) for p in (tmp_path / "world").rglob("*") if root not in p.parents)

    with pytest.raises((EntryNotFoundError, RegistryError), match=f"alias 'production'.*{target}"):
        registry.get("t", "prefix", "production")
    with pytest.raises(RegistryError, match="alias 'production'"):
        registry.promote("t", "prefix", "production", "staging")
    # Promoting a real version over the broken alias repairs it.
    event = registry.promote("t", "prefix", "v1", "production")
    assert (event.from_version, event.to_version) == (target, "v1")
    assert registry.get("t", "prefix", "production").path == root / "t" / "prefix" / "v1"
    after = sorted(str(p) for p in (tmp_path / "world").rglob("*") if root not in p.parents)
    assert after == before == [str(root)]
