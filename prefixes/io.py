"""Small file-system helpers shared by artifacts, bundles, data sources and the registry.

Writes are atomic (readers see the old file or the new one, never a mix) and durable (fsync'd
before the rename that makes them visible, the folder fsync'd after it), so a crash leaves either
state complete.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from pathlib import Path

# Prefix of every temporary file written next to a real one; readers skip such names and the
# registry's .gitignore keeps them out of git.
TEMP_PREFIX = ".tmp-"

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike) -> tuple[str, int]:
    """(hex sha256, size in bytes) of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
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
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
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


def package_dir(package: str) -> Path | None:
    """Folder of an installed package, found without importing it; None when it is not installed.

    Importing would run the package's ``__init__``, which for the data and model packages used
    here pulls in dependencies that are deliberately not installed.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0])
