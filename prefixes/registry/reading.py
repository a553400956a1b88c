"""Reading registry files without following symlinks or blocking on special files.

A registry is plain files that anyone with a checkout can edit. A stored name replaced by a symlink
(to `/dev/zero`, or to a file outside the registry) or by a FIFO would make a naive read hang or
report on a file the registry does not own, so every read opens the final path component without
following links and refuses anything but a regular file before reading a byte.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from prefixes.names import is_valid_name
from prefixes.registry.errors import IntegrityError, RegistryError

# Metadata, alias and cache files are small; anything larger is damage, not data.
MAX_DOCUMENT_BYTES = 64 << 20


class NotRegularFileError(IntegrityError):
    """A registry path is a symlink, directory, FIFO or device instead of a regular file."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(
            f"{path} is a {kind}, not a regular file; registry files must be plain files inside "
            "the registry (restore it from git or publish again)"
        )
        self.kind = kind


def file_kind(mode: int) -> str:
    """What a `stat` mode describes, in words for messages."""
    for test, kind in (
        (stat.S_ISREG, "regular file"),
        (stat.S_ISDIR, "directory"),
        (stat.S_ISLNK, "symbolic link"),
        (stat.S_ISFIFO, "named pipe"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return kind
    return "device file"


def open_regular(path: Path) -> BinaryIO:
    """Open `path` for reading if it is a regular file; `NotRegularFileError` otherwise.

    O_NONBLOCK makes opening a FIFO return at once (it is then refused by its type) instead of
    waiting for a writer; it changes nothing for regular files.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise NotRegularFileError(path, "symbolic link") from None
        raise
    kind = file_kind(os.fstat(fd).st_mode)
    if kind != "regular file":
        os.close(fd)
        raise NotRegularFileError(path, kind)
    return os.fdopen(fd, "rb")


def read_document(path: Path, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The bytes of a small regular file; FileNotFoundError passes through for callers to handle."""
    try:
        with open_regular(path) as handle:
            data = handle.read(limit + 1)
    except (FileNotFoundError, RegistryError):
        raise
    except OSError as error:
        raise RegistryError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > limit:
        raise RegistryError(f"{path} is larger than {limit} bytes; it is damaged, restore it")
    return data


def named_subdirs(path: Path) -> tuple[list[str], list[str]]:
    """(directories, symbolic links) among the validly named entries of `path`, each sorted.

    Task and method folders are never followed through a link: a link could make a read (and
    `verify`'s "ok") describe files outside the registry. Hidden and temporary entries are skipped.
    """
    try:
        entries = list(os.scandir(path))
    except (FileNotFoundError, NotADirectoryError):
        return [], []
    named = sorted((e for e in entries if is_valid_name(e.name)), key=lambda e: e.name)
    links = [e.name for e in named if e.is_symlink()]
    return [e.name for e in named if not e.is_symlink() and e.is_dir()], links


def link_error(path: Path, root: Path) -> IntegrityError:
    """The error for a task or method folder that is a symbolic link."""
    return IntegrityError(
        f"{path} is a symbolic link; the registry reads only inside {root}: replace it with a real directory"
    )
