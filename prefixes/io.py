"""Small file-system helpers shared by artifacts, bundles, data sources and the registry.

Writes are atomic (readers see the old file or the new one, never a mix) and durable (fsync'd
before the rename that makes them visible, the folder fsync'd after it), so a crash leaves either
state complete.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

# Prefix of every temporary file written next to a real one; readers skip such names and the
# registry's .gitignore keeps them out of git.
TEMP_PREFIX = ".tmp-"

_CHUNK = 1 << 20

# Files are created with the mode any program would use (0o666 less the umask), so a registry
# shared by a team through group permissions stays usable by all of them. `tempfile.mkstemp` would
# create them owner-only (0o600) whatever the umask says.
FILE_MODE = 0o666


def create_new(directory: Path, prefix: str, suffix: str = "") -> tuple[int, Path]:
    """Create a new, uniquely named, empty file in ``directory``; return its open fd and its path."""
    while True:
        path = directory / f"{prefix}{secrets.token_hex(8)}{suffix}"
        try:
            flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            return os.open(path, flags, FILE_MODE), path
        except FileExistsError:
            continue


def sha256_file(path: str | os.PathLike) -> tuple[str, int]:
    """(hex sha256, size in bytes) of the file at ``path``."""
    with open(path, "rb") as handle:
        return sha256_stream(handle)


def sha256_stream(handle: BinaryIO) -> tuple[str, int]:
    """(hex sha256, size in bytes) of what is left to read in ``handle``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    while chunk := handle.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def fsync_dir(path: Path) -> None:
    """Persist a directory's entries (new, renamed or removed names inside it)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new content, never a mix."""
    fd, tmp = create_new(path.parent, TEMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def replace_dir(target: Path, fill: Callable[[Path], None]) -> None:
    """Build a new folder with ``fill(staging)`` beside ``target``, then swap it in by renames.

    Readers find the old folder or the new one, never a mix; a kill between the two renames
    leaves the new folder complete under its temporary name and the old one under another.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f"{TEMP_PREFIX}{target.name}-{secrets.token_hex(8)}"
    staging.mkdir()
    try:
        fill(staging)
        fsync_dir(staging)
        swap_dir(staging, target, target.parent / f"{staging.name}-old")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def swap_dir(new: Path, target: Path, old: Path) -> None:
    """Put the complete folder ``new`` in ``target``'s place: ``target`` moves to ``old``, ``new`` to
    ``target`` (two renames, so a complete folder exists under one of the names at every instant),
    then ``old`` is removed."""
    had_old = target.exists()
    if had_old:
        os.rename(target, old)
    os.rename(new, target)
    fsync_dir(target.parent)
    if had_old:
        shutil.rmtree(old)


def package_dir(package: str) -> Path | None:
    """Folder of an installed package, found without importing it; None when it is not installed.

    Importing would run the package's ``__init__``, which for the data and model packages used
    here pulls in dependencies that are deliberately not installed.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0])
