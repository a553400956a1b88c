"""Durable writes inside staging dirs and advisory locks (atomic replace lives in `prefixes.io`).

A version is only as safe as its weakest write: files are fsync'd before the rename that makes them
visible, and the parent directory is fsync'd after it, so a power cut leaves either the old state or
the complete new one.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prefixes.io import FILE_MODE


def write_durable(path: Path, data: bytes) -> None:
    """Write `data` to `path` and fsync it (for files inside a not-yet-visible staging dir)."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive `fcntl.flock` on `path` (created if missing) for the block.

    The kernel drops the lock when the holder dies, even by SIGKILL, so a crashed publisher never
    blocks the next one.
    """
    # O_NOFOLLOW: a lock file replaced by a symlink must not create or touch a file elsewhere.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
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
