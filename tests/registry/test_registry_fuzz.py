"""Random damage to a registry copy: every read answers correctly or fails in one line, in time.

Each case copies a small published registry, applies one to three seeded random edits (metadata
fields and bytes, alias targets, artifact file names, weights, symlinks, FIFOs, cache lines, swapped
or copied version folders, linked task and method folders, stray local state), then runs every
read command and two publishes. The oracle:

- nothing hangs (each command has a deadline) and nothing outside the registry root changes (a
  sibling directory, the target of the hostile links, is snapshotted before and compared after);
- a command either succeeds or fails with one `Error:` line (the CLI) or the registry's own error
  type (the API), never a traceback;
- versions, aliases and `latest` that no edit touched still answer exactly as published, and any
  answer that succeeds is the version that was asked for, with the published bytes when loaded;
- `verify` reports every version whose artifact files were changed, every bad alias target and
  every linked task or method folder, which no read follows;
- every version served names itself (task, method, version) as the folder it came from;
- publishing new content succeeds whatever the damage (local state, stray or broken entries).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from registry_artifacts import deadline, record_loads, write_artifact
from registry_damage import ALIASES, EDITS, NAMESPACES, Damage

from prefixes.cli.registry import registry as cli
from prefixes.registry import Registry, RegistryError
from prefixes.registry.metadata import GitInfo

CASES = 300
COMMAND_DEADLINE_S = 5.0

@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> tuple[Path, dict]:
    """A world with a published registry and a sibling `outside/` that links point into."""
    world = tmp_path_factory.mktemp("pristine") / "world"
    root = world / "reg"
    registry = Registry(root)
    seed = 0
    for (task, method), count in NAMESPACES.items():
        for _ in range(count):
            seed += 1
            artifact = write_artifact(world.parent / "in", seed, method=method)
            registry.publish(artifact, task=task, method=method, metrics={"accuracy": seed / 10})
    for (task, method), table in ALIASES.items():
        for alias, version in table.items():
            registry.promote(task, method, version, alias)
    long_ago = time.time() - 60
    for task, method in NAMESPACES:
        os.utime(root / task / method, (long_ago, long_ago))
        registry.get(task, method)  # writes the `latest` cache, which the edits also target
    outside = world / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret\n")
    # A healthy registry outside the root, which linked task and method folders point into.
    Registry(outside / "xreg").publish(write_artifact(world.parent / "in", 99), task="x", method="prefix")
    shutil.copytree(root / "t" / "prefix" / "v1", outside / "entry")
    expected = {
        (task, method, entry.path.name): {
            "metadata": entry.metadata.model_dump(mode="json"),
            "files": {p.name: p.read_bytes() for p in entry.path.iterdir()},
        }
        for (task, method) in NAMESPACES for entry in registry.list(task, method)
    }
    return world, expected



# ----- checks --------------------------------------------------------------------------------------

def _snapshot(directory: Path) -> dict[str, tuple]:
    state = {}
    for path in sorted(directory.rglob("*")):
        info = path.lstat()
        content = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        state[str(path)] = (info.st_mode, info.st_mtime_ns, content)
    return state


def _cli(*args: str) -> tuple[int, str, str]:
    with deadline(COMMAND_DEADLINE_S):
        result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output, result.output
    assert result.exit_code in (0, 1), (args, result.exit_code, result.output, result.exception)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    return result.exit_code, result.stdout, result.stderr


def _latest_on_disk(namespace: Path) -> str | None:
    """The highest `vN` holding a metadata.json: a folder without one was never published."""
    numbers = [int(n[1:]) for n in os.listdir(namespace) if n[1:].isdigit() and n[:1] == "v"
               and os.path.lexists(namespace / n / "metadata.json")]
    return f"v{max(numbers)}" if numbers else None


def _check_list(root: Path, expected: dict, damage: Damage) -> None:
    code, out, err = _cli("list", "--registry", str(root), "--json")
    rows = {(r["task"], r["method"], r["version"]): r for r in json.loads(out)}
    assert all(line.startswith("broken: ") for line in err.splitlines()), err
    assert (code == 0) == (err == "")
    for ref in damage.links:
        assert f"broken: {ref}: " in err, (ref, err)
    for task, method, version in rows:
        assert not (root / task).is_symlink() and not (root / task / method).is_symlink(), (task, method)
        assert rows[task, method, version]["path"] == str(root / task / method / version)
    for ref, published in expected.items():
        if ref in damage.versions:
            continue
        assert rows[ref]["digest"] == published["metadata"]["digest"]
        assert rows[ref]["metrics"] == published["metadata"]["metrics"]
        if ref[:2] not in damage.aliases:
            assert rows[ref]["aliases"] == sorted(
                a for a, v in ALIASES.get(ref[:2], {}).items() if v == ref[2])


def _check_verify(root: Path, expected: dict, damage: Damage) -> None:
    code, out, _ = _cli("verify", "--registry", str(root), "--json")
    report = json.loads(out)
    flagged = {tuple(p["entry"].split("/")) for p in report["problems"]}
    assert (code == 0) == report["ok"] == (not flagged)
    # A damaged version that a later edit removed whole leaves nothing to flag.
    present = {ref for ref in damage.files if os.path.lexists(root.joinpath(*ref))}
    assert present <= flagged, present - flagged
    clean = set(expected) - damage.versions
    assert not clean & flagged, clean & flagged
    for task, method in damage.aliases:
        assert (task, method) in flagged or not (root / task / method / "aliases.json").is_file()
    assert {tuple(ref.split("/")) for ref in damage.links} <= flagged


def _requests(root: Path) -> list[tuple[str, str, str, str | None]]:
    """(task, method, requested version, the version it must resolve to or None if none)."""
    requests = []
    for task, method in NAMESPACES:
        namespace = root / task / method
        requests.append((task, method, "latest", _latest_on_disk(namespace)))
        requests.append((task, method, "v01", None))
        for number in range(1, NAMESPACES[task, method] + 1):
            requests.append((task, method, f"v{number}", f"v{number}"))
        for alias, version in ALIASES.get((task, method), {}).items():
            requests.append((task, method, alias, version))
    return requests


def _check_show(root: Path, expected: dict, damage: Damage) -> None:
    for task, method, requested, resolves_to in _requests(root):
        code, out, err = _cli("show", task, "--method", method, "--version", requested,
                              "--registry", str(root), "--json")
        via_alias = requested not in ("latest",) and not requested[1:].isdigit()
        ref = (task, method, resolves_to)
        must_answer = (resolves_to is not None and ref not in damage.versions
                       and (task, method) not in damage.aliases)
        if code == 1 and not out or resolves_to is None:
            assert code == 1 and not must_answer, (requested, code, err)
            assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1, err
            continue
        if code == 1:  # shown, with its broken aliases file named
            assert (task, method) in damage.aliases and err.startswith(f"broken: {task}/{method}: "), err
        shown = json.loads(out)
        assert Path(shown["path"]).parent == root / task / method
        assert (shown["task"], shown["method"], shown["version"]) == (task, method, Path(shown["path"]).name)
        if via_alias and (task, method) in damage.aliases:
            continue  # an edited alias that still names an existing version is a valid answer
        assert Path(shown["path"]) == root / task / method / resolves_to
        if ref not in damage.versions:
            published = expected[ref]["metadata"]
            assert {k: shown[k] for k in published} == published
    for ref in damage.links:  # a linked folder is named, never read through
        task, method = (ref.split("/") + ["prefix"])[:2]
        code, out, err = _cli("show", task, "--method", method, "--registry", str(root), "--json")
        assert code == 1 and err.startswith(f"Error: {root / ref} is a symbolic link"), err


@pytest.fixture
def loaded(monkeypatch) -> list[Path]:
    return record_loads(monkeypatch)


def _check_load(root: Path, expected: dict, damage: Damage, loaded: list[Path]) -> None:
    registry = Registry(root)
    for (task, method, version), published in expected.items():
        loaded.clear()
        try:
            with deadline(COMMAND_DEADLINE_S):
                registry.get(task, method, version).load()
        except RegistryError as error:
            assert (task, method, version) in damage.versions, error
            continue
        assert loaded == [root / task / method / version]
        stored = {p.name: p.read_bytes() for p in loaded[0].iterdir() if p.name != "metadata.json"}
        assert stored == {k: v for k, v in published["files"].items() if k != "metadata.json"}


def _check_publish(root: Path, artifact: Path) -> None:
    """New content publishes as the next version of `t/prefix`, whatever was damaged."""
    registry = Registry(root)
    with deadline(COMMAND_DEADLINE_S):
        entry = registry.publish(artifact, task="t", method="prefix")
    assert entry.path.parent == root / "t" / "prefix"
    assert registry.get("t", "prefix", entry.path.name).metadata.digest == entry.metadata.digest


def test_random_damage_never_yields_wrong_answers_hangs_tracebacks_or_writes_outside(
    pristine, tmp_path, loaded, monkeypatch
):
    world, expected = pristine
    # Two git processes and a dozen fsyncs per publish would dominate the run; neither provenance nor
    # durability is what is fuzzed here (test_registry_processes kills real publishers).
    monkeypatch.setattr("prefixes.registry.draft.git_info", lambda cwd, root: GitInfo(commit=None, dirty=None))
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    artifact = write_artifact(tmp_path / "in", 1000)  # new content to every copy
    started = time.monotonic()
    for case in range(CASES):
        rng = random.Random(case)
        copy = tmp_path / f"case-{case}"
        shutil.copytree(world, copy, symlinks=True)
        root = copy / "reg"
        damage = Damage()
        for _ in range(rng.randint(1, 3)):
            rng.choice(EDITS)(root, rng, damage)
        outside = _snapshot(copy / "outside")
        try:
            _check_list(root, expected, damage)
            _check_verify(root, expected, damage)
            _check_show(root, expected, damage)
            _check_load(root, expected, damage, loaded)
            _check_publish(root, artifact)
        except AssertionError as error:
            raise AssertionError(f"case {case} (damage {damage}): {error}") from error
        assert _snapshot(copy / "outside") == outside, f"case {case} wrote outside the registry"
        assert sorted(os.listdir(copy)) == ["outside", "reg"], f"case {case}"
        shutil.rmtree(copy)
    assert time.monotonic() - started < 60
