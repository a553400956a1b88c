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
import time
import zlib
from pathlib import Path

from prefixes.io import write_atomic
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
    """The highest version number in `namespace`, or None when it has no versions."""
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
    latest = max(version_numbers(namespace), default=None)
    if latest is not None and time.time_ns() - mtime_ns > _RACY_S * 1e9:
        try:
            if _make_cache_dir(cache.parent):
                body = f"{mtime_ns} {latest}"
                write_atomic(cache, f"{body} {_checksum(body)}\n".encode())
        except OSError:
            pass  # a read-only checkout still answers correctly, just without the shortcut
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
        if metadata.version != version or content_digest(metadata.files) != metadata.digest:
            return None  # a copied or edited version cannot vouch for any content
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
        if _make_cache_dir(self._path.parent):
            # No fsync: a line lost in a crash only means that version is read again next time.
            with open(self._path, "a") as handle:
                handle.write("".join(_format_line(n, *line) for n, line in entries.items()))

    def _rewrite(self) -> None:
        if _make_cache_dir(self._path.parent):
            lines = "".join(_format_line(n, *line) for n, line in sorted(self._lines.items()))
            write_atomic(self._path, lines.encode())


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


def _make_cache_dir(path: Path) -> bool:
    """Create the cache dir if needed; False when it is not a real directory inside the registry.

    A `.cache` replaced by a symlink would send cache writes outside the registry root.
    """
    try:
        path.mkdir(exist_ok=True)
    except OSError:
        return False
    return not path.is_symlink() and path.is_dir()
