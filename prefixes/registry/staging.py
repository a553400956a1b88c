"""How a version comes into being: a private staging dir, then one atomic rename to `vN`.

Staging dirs live in `<root>/.staging/`, on the same file system as the versions (so the rename is
atomic) and outside every task, so readers never see them. Each is paired with a lock file its
publisher holds until it finishes; a crashed publisher's lock is released by the kernel, which is
how a cleaner tells an abandoned staging dir from a slow one.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from prefixes.io import create_new, fsync_dir
from prefixes.registry.artifact import METADATA_FILE
from prefixes.registry.atomic import try_lock, write_durable
from prefixes.registry.metadata import EntryMetadata
from prefixes.registry.names import format_version
from prefixes.registry.reading import file_kind
from prefixes.registry.verify import read_back

STAGING_DIR = ".staging"
# A staging dir is only removed once its publisher is gone (its lock is free) and it is this old.
STALE_STAGING_S = 60.0
_LOCK_SUFFIX = ".lock"

logger = logging.getLogger(__name__)


@contextmanager
def staging_dir(root: Path) -> Iterator[Path]:
    """A fresh, empty staging dir under `root`; removed on exit unless it was renamed away."""
    fd, lock_path = create_new(root / STAGING_DIR, "publish-", _LOCK_SUFFIX)
    stage = Path(str(lock_path).removesuffix(_LOCK_SUFFIX))
    try:
        try_lock(fd)  # the file is brand new, so nobody else can hold it yet
        stage.mkdir()
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        os.unlink(lock_path)
        os.close(fd)


def clean_stale_staging(root: Path) -> None:
    """Remove staging dirs whose publisher died (its lock is free) more than a minute ago.

    Cleaning is best-effort: an entry it does not recognise is named in a warning and left alone,
    so local damage in `.staging` never stops a publish.
    """
    now = time.time()
    for entry in os.scandir(root / STAGING_DIR):
        if not entry.name.endswith(_LOCK_SUFFIX):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                kind = file_kind(entry.stat(follow_symlinks=False).st_mode)
                logger.warning("%s is a %s, not a publisher's lock file; it was left alone: remove it", entry.path, kind)
                continue
            if now - entry.stat().st_mtime < STALE_STAGING_S:
                continue
            fd = os.open(entry.path, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:  # another cleaner or its owner was faster
            continue
        except OSError as error:
            logger.warning("cannot clean %s (%s); it was left alone", entry.path, error.strerror or error)
            continue
        try:
            if try_lock(fd):
                shutil.rmtree(entry.path.removesuffix(_LOCK_SUFFIX), ignore_errors=True)
                Path(entry.path).unlink(missing_ok=True)
        finally:
            os.close(fd)


def claim_version(stage: Path, namespace: Path, draft: EntryMetadata, number: int) -> int:
    """Rename `stage` to the first free `vN` from `number` on and return N (caller holds the lock).

    The lock makes collisions rare (only writers that bypass it); on one, N+1 is tried. `rename`
    onto an existing non-empty directory fails, and a version is never empty, so a stored version
    can never be replaced.
    """
    while True:
        metadata = draft.model_copy(
            update={"version": format_version(number), "created_at": datetime.now(UTC)}
        )
        write_durable(stage / METADATA_FILE, metadata.to_json().encode())
        read_back(stage, metadata)
        fsync_dir(stage)
        try:
            os.rename(stage, namespace / format_version(number))
        except OSError as error:
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            number += 1
            continue
        fsync_dir(namespace)
        return number


def make_dirs(path: Path) -> None:
    """Create `path` and its parents, fsync'ing each parent whose listing changed."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:  # a concurrent publisher created it first
            continue
        fsync_dir(directory.parent)
