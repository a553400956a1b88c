"""Seeded random damage to a registry copy, for tests/registry/test_registry_fuzz.py: the published
layout (namespaces and aliases) and the edits, each recording what it touched in a `Damage`.

`outside/xreg` beside the registry holds a healthy registry of task `x`, which links point into."""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

NAMESPACES = {("t", "prefix"): 3, ("t", "prompt"): 1, ("u", "p_tuning_v2"): 2}
ALIASES = {("t", "prefix"): {"production": "v2", "staging": "v3"},
           ("u", "p_tuning_v2"): {"production": "v1"}}
EVIL_NAMES = ["../../../../dev/zero", "../../../outside/secret", "/etc/hostname", "", ".", "..",
              "a/b", "line\nbreak", "metadata.json", "prefix.safetensors/..", "x" * 300]
EVIL_TARGETS = ["/elsewhere/evil", "../../../outside/evil", "v0", "v01", "v99", "", "latest",
                "v1/../v2", "production", "v1\n"]
JUNK_VALUES = [None, "x", -1, 3.5, [], {}, {"a": 1}, True, "NaN"]


@dataclass
class Damage:
    """What the edits touched: these refs owe no particular answer, only a safe one."""

    versions: set[tuple[str, str, str]] = field(default_factory=set)
    files: set[tuple[str, str, str]] = field(default_factory=set)  # artifact bytes or names changed
    aliases: set[tuple[str, str]] = field(default_factory=set)
    links: set[str] = field(default_factory=set)  # task or task/method folders that are links

# ----- edits ---------------------------------------------------------------------------------------

def _version_dir(root: Path, rng: random.Random) -> tuple[tuple[str, str, str], Path]:
    task, method = rng.choice(sorted(NAMESPACES))
    version = f"v{rng.randint(1, NAMESPACES[task, method])}"
    return (task, method, version), root / task / method / version


def _rewrite_json(path: Path, edit) -> None:
    if path.is_symlink() or not path.is_file():  # an earlier edit made it a link or a FIFO
        return
    try:
        data = json.loads(path.read_text())
        edit(data)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return  # an earlier edit already broke its structure
    path.write_text(json.dumps(data))


def _edit_metadata(root: Path, rng: random.Random, damage: Damage) -> None:
    ref, entry = _version_dir(root, rng)
    damage.versions.add(ref)
    path = entry / "metadata.json"
    if entry.is_symlink() or not entry.is_dir() or path.is_symlink():
        return  # edits go through the registry copy only, never through a link

    def edit(data: dict) -> None:
        key = rng.choice(sorted(data))
        if rng.random() < 0.3:
            del data[key]
        elif key == "files" and data["files"]:
            record = rng.choice(data["files"])
            record[rng.choice(["name", "sha256", "size"])] = rng.choice([*EVIL_NAMES, 0, None])
            damage.files.add(ref)
        else:
            data[key] = rng.choice(JUNK_VALUES)

    choice = rng.randrange(4)
    if choice == 0:
        _rewrite_json(path, edit)
    elif choice == 1:
        data = path.read_bytes() if path.is_file() and not path.is_symlink() else b"{}"
        path.write_bytes(data[: rng.randrange(len(data) + 1)])
    elif choice == 2:
        path.write_text(path.read_text().replace('"accuracy": ', '"accuracy": NaN, "x": ', 1)
                        if path.is_file() and not path.is_symlink() else "NaN")
    else:  # a file name outside the entry, with the true hash of what it points at
        target = root.parent / "outside" / "secret"
        _rewrite_json(path, lambda data: data.get("files", []).append(
            {"name": rng.choice(EVIL_NAMES), "sha256": f"{0:064x}", "size": target.stat().st_size}))
        damage.files.add(ref)


def _edit_artifact_file(root: Path, rng: random.Random, damage: Damage) -> None:
    ref, entry = _version_dir(root, rng)
    damage.versions.add(ref)
    damage.files.add(ref)
    name = rng.choice(["prefix.safetensors", "prefix_config.json"])
    path = entry / name
    if entry.is_symlink() or not path.is_file() or path.is_symlink():
        return
    data = bytearray(path.read_bytes())
    choice = rng.randrange(7)
    if choice == 0:
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(data))
    elif choice == 1:
        path.write_bytes(bytes(data[: rng.randrange(len(data))]))
    elif choice == 2:
        path.write_bytes(bytes(data) + b"\0")
    elif choice == 3:
        path.rename(entry / rng.choice(["renamed", "PREFIX.safetensors", ".hidden"]))
    elif choice == 4:
        path.unlink()
        path.symlink_to(rng.choice(["/dev/zero", str(root.parent / "outside" / "secret")]))
    elif choice == 5:
        path.unlink()
        os.mkfifo(path)
    else:
        (entry / "extra.bin").write_bytes(b"extra")


def _edit_aliases(root: Path, rng: random.Random, damage: Damage) -> None:
    task, method = rng.choice(sorted(ALIASES))
    damage.aliases.add((task, method))
    path = root / task / method / "aliases.json"
    choice = rng.randrange(3)
    if choice == 0:
        alias = rng.choice(sorted(ALIASES[task, method]))
        _rewrite_json(path, lambda data: data["aliases"].__setitem__(alias, rng.choice(EVIL_TARGETS)))
    elif choice == 1:
        path.write_text(rng.choice(['{"aliases": []}', "[]", "{", '{"aliases": {"p": 1}}', "\0"]))
    else:
        path.unlink(missing_ok=True)
        path.symlink_to(rng.choice(["/dev/zero", str(root.parent / "outside" / "secret")]))


def _edit_structure(root: Path, rng: random.Random, damage: Damage) -> None:
    choice = rng.randrange(4)
    if choice == 3:  # a stale, torn or hand-edited cache line: answers must not change
        name = rng.choice(["t@prefix.latest", "t@prefix.digests", "u@p_tuning_v2.latest"])
        mtime = os.stat(root / "t" / "prefix").st_mtime_ns
        if os.path.lexists(root / ".cache" / name) and not (root / ".cache" / name).is_file():
            return  # a local-state edit put a directory or a named pipe there
        (root / ".cache" / name).write_text(
            rng.choice([f"{mtime} 1\n", f"{mtime} 99 00000000\n", "garbage", "", "\0\0"]))
        return
    ref, entry = _version_dir(root, rng)
    damage.versions.add(ref)
    if choice == 0:  # the version becomes a link to a copy outside, or to a sibling version
        damage.files.add(ref)
        shutil.rmtree(entry, ignore_errors=True)
        if not entry.is_symlink():
            entry.symlink_to(rng.choice([root.parent / "outside" / "entry", entry.parent / "v1"]))
    elif choice == 1:
        damage.files.add(ref)
        metadata = entry / "metadata.json"
        if not entry.is_symlink() and metadata.is_file() and not metadata.is_symlink():
            metadata.unlink()
            if rng.random() < 0.5:
                os.mkfifo(metadata)
            else:
                metadata.symlink_to(rng.choice(["/dev/zero", "../v1/metadata.json"]))
    else:  # removed whole (as by a checkout): nothing is left for verify to flag
        shutil.rmtree(entry, ignore_errors=True)


def _swap_or_copy_versions(root: Path, rng: random.Random, damage: Damage) -> None:
    """A bad merge swaps two version folders, or a hand copy brings another namespace's version in:
    every hash still passes, only the recorded identity tells them apart."""
    task, method = rng.choice(sorted(NAMESPACES))
    namespace = root / task / method
    count = NAMESPACES[task, method]
    if count >= 2 and rng.random() < 0.5:
        first, second = (namespace / f"v{n}" for n in rng.sample(range(1, count + 1), 2))
        if os.path.lexists(first) and os.path.lexists(second):
            os.rename(first, namespace / "swap")
            os.rename(second, first)
            os.rename(namespace / "swap", second)
            refs = {(task, method, first.name), (task, method, second.name)}
            damage.versions |= refs
            damage.files |= refs
        return
    other_task, other_method = rng.choice([ns for ns in sorted(NAMESPACES) if ns != (task, method)])
    source, target = root / other_task / other_method / "v1", namespace / f"v{count + 1}"
    if source.is_symlink() or not source.is_dir() or os.path.lexists(target):
        return
    ref = (task, method, target.name)
    damage.versions.add(ref)
    damage.files.add(ref)
    try:
        shutil.copytree(source, target, symlinks=True)
    except (shutil.Error, OSError):  # an earlier edit left a named pipe there, which is not copied
        pass


def _link_folder(root: Path, rng: random.Random, damage: Damage) -> None:
    """A task folder, or a method folder, that is a link to a healthy registry outside the root."""
    outside = root.parent / "outside" / "xreg" / "x"
    link, target, ref = rng.choice([(root / "x", outside, "x"),
                                    (root / "t" / "p_tuning_v2", outside / "prefix", "t/p_tuning_v2")])
    if not os.path.lexists(link):
        link.symlink_to(target)
        damage.links.add(ref)


def _edit_local_state(root: Path, rng: random.Random, damage: Damage) -> None:
    """Unversioned local state: a directory where a publisher's lock belongs, a stray empty version
    folder, cache files that cannot be written (a directory or a named pipe in their place)."""
    choice = rng.randrange(4)
    if choice == 0:
        stray = root / ".staging" / f"x{rng.randrange(3)}.lock"
        stray.mkdir(exist_ok=True)
        os.utime(stray, (0, 0))
    elif choice == 1:
        task, method = rng.choice(sorted(NAMESPACES))
        (root / task / method / "v9").mkdir(exist_ok=True)
        damage.versions.add((task, method, "v9"))
        damage.files.add((task, method, "v9"))
    else:
        path = root / ".cache" / rng.choice(["t@prefix.digests", "t@prefix.latest"])
        if path.is_symlink() or path.is_file():
            path.unlink()
        if not os.path.lexists(path):
            path.mkdir() if choice == 2 else os.mkfifo(path)


EDITS = [_edit_metadata, _edit_artifact_file, _edit_aliases, _edit_structure, _swap_or_copy_versions,
         _link_folder, _edit_local_state]
