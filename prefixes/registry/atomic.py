"""Durable, atomic file-system primitives: fsync'd writes, atomic replace, advisory locks.

A version is only as safe as its weakest write: files are fsync'd before the rename that makes them
visible, and the parent directory is fsync'd after it, so a power cut leaves either the old state or
the complete new one.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Prefix of every temporary file the registry writes next to a real one; readers skip them and the
# registry's .gitignore keeps them out of git.
TEMP_PREFIX = ".tmp-"

# Files are created with the mode any program would use (0o666 less the umask), so a registry
# shared by a team through group permissions stays usable by all of them. `tempfile.mkstemp` would
# create them owner-only (0o600) whatever the umask says.
_FILE_MODE = 0o666


def create_new(directory: Path, prefix: str, suffix: str = "") -> tuple[int, Path]:
    """Create a new, uniquely named, empty file in `directory`; return its open fd and its path."""
    while True:
        path = directory / f"{prefix}{secrets.token_hex(8)}{suffix}"
        try:
            flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            return os.open(path, flags, _FILE_MODE), path
        except FileExistsError:
            continue


def fsync_dir(path: Path) -> None:
    """Persist a directory's entries (new, renamed or removed names inside it)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durable(path: Path, data: bytes) -> None:
    """Write `data` to `path` and fsync it (for files inside a not-yet-visible staging dir)."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that readers see the old or the new content, never a mix."""
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


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive `fcntl.flock` on `path` (created if missing) for the block.

    The kernel drops the lock when the holder dies, even by SIGKILL, so a crashed publisher never
    blocks the next one.
    """
    # O_NOFOLLOW: a lock file replaced by a symlink must not create or touch a file elsewhere.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, _FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def try_lock(fd: int) -> bool:
    """Take an exclusive lock on `fd` without waiting; False when another process holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
