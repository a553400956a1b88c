"""Version listing and two local caches that keep look-ups fast at 10,000 versions.

Both caches live in `<root>/.cache/` (not versioned in git; a fresh clone rebuilds them) and are
only shortcuts: each is validated against the file system before it is trusted, so a stale or
corrupt cache costs a rescan, never a wrong answer.

- `latest_version`: the highest N, cached with the namespace directory's mtime. Adding, renaming or
  removing a version changes that mtime, so a matching mtime proves the cached N is still right.
- `DigestIndex`: content digest -> version for duplicate checks, so a publish does not read every
  version's metadata: only versions whose metadata.json changed (by its stat stamp) are read, and
  a hit is confirmed against the version's own metadata before it is returned.

Every cache line carries a checksum, so a torn or hand-edited line is ignored rather than trusted.
"""

from __future__ import annotations

import os
import stat
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from prefixes.io import FILE_MODE, write_atomic
from prefixes.registry.artifact import METADATA_FILE, content_digest
from prefixes.registry.errors import RegistryError
from prefixes.registry.metadata import read_metadata
from prefixes.registry.names import format_version, parse_version
from prefixes.registry.reading import read_document

CACHE_DIR = ".cache"
# A directory modified this recently may change again within the same mtime tick (file systems
# stamp with a coarse clock), so its listing is not cached: the racy-timestamp rule git uses.
_RACY_S = 2.0
_SHA256_HEX_LEN = 64


def version_numbers(namespace: Path) -> set[int]:
    """N of every `vN` entry, from the directory listing alone (no metadata is read)."""
    try:
        names = os.listdir(namespace)
    except FileNotFoundError:
        return set()
    return {number for number in map(parse_version, names) if number is not None}


def _cache_file(namespace: Path, suffix: str) -> Path:
    # '@' cannot occur in task or method names, so `<task>@<method>` names one namespace.
    root = namespace.parent.parent
    return root / CACHE_DIR / f"{namespace.parent.name}@{namespace.name}.{suffix}"


def latest_version(namespace: Path) -> int | None:
    """The highest version number in `namespace` whose folder holds a metadata.json, or None.

    Publishing writes metadata.json before the rename that creates `vN`, so a folder without one
    (an empty `v7` left by a copy or a checkout) was never a version: it must not hide the real
    latest. `get v7`, `list` and `verify` still name it.
    """
    try:
        mtime_ns = os.stat(namespace).st_mtime_ns
    except FileNotFoundError:
        return None
    cache = _cache_file(namespace, "latest")
    try:
        cached_mtime, cached_latest, check = read_document(cache, 256).decode().split()
        if int(cached_mtime) == mtime_ns and check == _checksum(f"{cached_mtime} {cached_latest}"):
            return int(cached_latest)
    except (OSError, ValueError, RegistryError):
        pass  # no cache yet, or a torn or edited one: fall through to the listing
    numbers = sorted(version_numbers(namespace), reverse=True)
    latest = next((n for n in numbers if os.path.lexists(f"{namespace}/v{n}/{METADATA_FILE}")), None)
    # Only the plain case is cached: metadata arriving in a stray folder does not touch the
    # namespace's mtime, so an answer that skipped one could go stale unnoticed.
    if latest is not None and latest == numbers[0] and time.time_ns() - mtime_ns > _RACY_S * 1e9:
        body = f"{mtime_ns} {latest}"
        _write_cache(cache, lambda: write_atomic(cache, f"{body} {_checksum(body)}\n".encode()))
    return latest


class DigestIndex:
    """Digest lookup for the versions in `namespace`; use it only while holding the namespace lock.

    The cache is not versioned, so it outlives a `git checkout` that swaps a version's content for
    another branch's. Each line `<N> <digest> <stamp> <check>` therefore records the stat stamp of
    the metadata.json it was read from (inode, size, mtime, ctime: a checkout or an edit changes
    them) and a checksum of the line: a line whose stamp or checksum does not match is read again.
    A found version is still confirmed against its metadata before it is returned.
    """

    def __init__(self, namespace: Path) -> None:
        self._namespace = namespace
        self._path = _cache_file(namespace, "digests")
        self._lines: dict[int, tuple[str, str]] = {}  # N -> (digest, stamp)
        self._numbers: set[int] = set()
        self._prefix = os.path.join(namespace, format_version(0)[:-1])  # `<namespace>/v`
        try:
            text = read_document(self._path).decode("utf-8", "replace")
        except (OSError, RegistryError):
            text = ""
        for line in text.splitlines():
            parsed = _parse_line(line)
            if parsed is not None:
                self._lines[parsed[0]] = parsed[1:]

    def refresh(self, numbers: set[int]) -> None:
        """Bring the index up to date with the versions on disk, re-reading any that changed."""
        self._numbers = numbers
        current: dict[int, tuple[str, str]] = {}
        for number in sorted(numbers):
            stamp = self._stamp(number)
            cached = self._lines.get(number)
            if cached is not None and cached[1] == stamp:
                current[number] = cached
                continue
            digest = self._read_digest(number)
            if digest is not None and stamp is not None:
                current[number] = (digest, stamp)
        stale = not self._lines.keys() <= current.keys() or any(
            self._lines.get(number, line) != line for number, line in current.items()
        )
        added = {n: line for n, line in current.items() if n not in self._lines}
        if stale:  # a version vanished or changed under a checkout: rewrite every line
            self._lines = current
            self._rewrite()
        else:  # versions only arrived: one short append
            self._append(added)

    def find(self, digest: str) -> int | None:
        """The first version holding content `digest`, confirmed against its metadata, or None."""
        for number in sorted(n for n, (d, _) in self._lines.items() if d == digest):
            if self._read_digest(number) == digest:
                return number
            # A line with a valid stamp and checksum but a wrong digest was written on purpose:
            # trust no line, read every version once, and answer from what was read.
            self._lines.clear()
            self.refresh(self._numbers)
            return min((n for n, (d, _) in self._lines.items() if d == digest), default=None)
        return None

    def add(self, digest: str, number: int) -> None:
        """Record a version just published under the lock."""
        stamp = self._stamp(number)
        if stamp is not None:
            self._append({number: (digest, stamp)})

    def _read_digest(self, number: int) -> str | None:
        version = format_version(number)
        try:
            metadata = read_metadata(self._namespace / version / METADATA_FILE)
        except RegistryError:
            return None  # a damaged version is `verify`'s business; it is retried next time
        identity = (metadata.task, metadata.method, metadata.version)
        if identity != (self._namespace.parent.name, self._namespace.name, version):
            return None  # a copied or swapped version cannot vouch for any content
        if content_digest(metadata.files) != metadata.digest:
            return None  # nor can an edited one
        return metadata.digest

    def _stamp(self, number: int) -> str | None:
        # Runs once per version on every publish: a plain string path, not pathlib (3x faster).
        try:
            info = os.lstat(f"{self._prefix}{number}/{METADATA_FILE}")
        except OSError:
            return None
        return f"{info.st_ino}.{info.st_size}.{info.st_mtime_ns}.{info.st_ctime_ns}"

    def _append(self, entries: dict[int, tuple[str, str]]) -> None:
        if not entries:
            return
        self._lines.update(entries)
        text = "".join(_format_line(n, *line) for n, line in entries.items())
        _write_cache(self._path, lambda: _append_text(self._path, text))

    def _rewrite(self) -> None:
        lines = "".join(_format_line(n, *line) for n, line in sorted(self._lines.items()))
        _write_cache(self._path, lambda: write_atomic(self._path, lines.encode()))


def _checksum(body: str) -> str:
    """Catches torn and hand-edited cache lines (not forgery: the cache is local, unshared)."""
    return f"{zlib.crc32(body.encode()):08x}"


def _format_line(number: int, digest: str, stamp: str) -> str:
    body = f"{number} {digest} {stamp}"
    return f"{body} {_checksum(body)}\n"


def _parse_line(line: str) -> tuple[int, str, str] | None:
    """(N, digest, stamp) of a well-formed line whose checksum matches; None for anything else."""
    parts = line.split(" ")
    if len(parts) != 4 or not parts[0].isdigit() or len(parts[1]) != _SHA256_HEX_LEN:
        return None
    if _checksum(" ".join(parts[:3])) != parts[3]:
        return None
    return int(parts[0]), parts[1], parts[2]


def _write_cache(path: Path, write: Callable[[], None]) -> None:
    """Run `write` if the cache dir is usable; a cache that cannot be written is skipped, never an error.

    The cache only saves time, so a read-only or damaged `.cache` must not fail the publish that
    wanted to update it (the version exists by then) or any publish after it.
    """
    try:
        if _make_cache_dir(path.parent):
            write()
    except OSError:
        pass


def _append_text(path: Path, text: str) -> None:
    # No fsync: a line lost in a crash only means that version is read again next time. O_NONBLOCK
    # and O_NOFOLLOW: a FIFO or a link put in the cache's place fails at once instead of blocking.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, FILE_MODE)
    with os.fdopen(fd, "a") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        handle.write(text)


def _make_cache_dir(path: Path) -> bool:
    """Create the cache dir if needed; False when it is not a real directory inside the registry.

    A `.cache` replaced by a symlink would send cache writes outside the registry root.
    """
    try:
        path.mkdir(exist_ok=True)
    except OSError:
        return False
    return not path.is_symlink() and path.is_dir()
