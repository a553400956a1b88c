"""Version listing and two local caches that keep look-ups fast at 10,000 versions.

Both caches live in `<root>/.cache/` (not versioned in git; a fresh clone rebuilds them) and are
only shortcuts: each is validated against the file system before it is trusted, so a stale or
corrupt cache costs a rescan, never a wrong answer.

- `latest_version`: the highest N, cached with the namespace directory's mtime. Adding, renaming or
  removing a version changes that mtime, so a matching mtime proves the cached N is still right.
- `DigestIndex`: content digest -> version for duplicate checks, so a publish does not read every
  version's metadata. Versions are immutable, so only versions it has not seen are read.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from prefixes.registry.artifact import METADATA_FILE
from prefixes.io import write_atomic
from prefixes.registry.errors import RegistryError
from prefixes.registry.metadata import read_metadata
from prefixes.registry.names import format_version, parse_version

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
        cached_mtime, cached_latest = cache.read_text().split()
        if int(cached_mtime) == mtime_ns:
            return int(cached_latest)
    except (OSError, ValueError):
        pass  # no cache yet, or a torn one: fall through to the listing
    latest = max(version_numbers(namespace), default=None)
    if latest is not None and time.time_ns() - mtime_ns > _RACY_S * 1e9:
        try:
            cache.parent.mkdir(exist_ok=True)
            write_atomic(cache, f"{mtime_ns} {latest}\n".encode())
        except OSError:
            pass  # a read-only checkout still answers correctly, just without the shortcut
    return latest


class DigestIndex:
    """Digest lookup for the versions in `namespace`; use it only while holding the namespace lock.

    Stored as append-only lines `<N> <digest>`, so recording a version costs one short append. A
    line torn by a crash fails to parse and its versions are simply read again.
    """

    def __init__(self, namespace: Path) -> None:
        self._namespace = namespace
        self._path = _cache_file(namespace, "digests")
        self._digests: dict[int, str] = {}
        try:
            lines = self._path.read_text().splitlines()
        except OSError:
            lines = []
        for line in lines:
            parts = line.split()
            if len(parts) == 2 and parts[0].isdigit() and len(parts[1]) == _SHA256_HEX_LEN:
                self._digests[int(parts[0])] = parts[1]

    def refresh(self, numbers: set[int]) -> None:
        """Bring the index up to date with the version numbers currently on disk."""
        if not self._digests.keys() <= numbers:
            # A known version disappeared (removed by hand, or a checkout of another branch).
            self._digests = {n: d for n, d in self._digests.items() if n in numbers}
            self._path.parent.mkdir(exist_ok=True)
            lines = "".join(f"{n} {d}\n" for n, d in self._digests.items())
            write_atomic(self._path, lines.encode())
        new: dict[int, str] = {}
        for number in sorted(numbers - self._digests.keys()):
            try:
                new[number] = read_metadata(
                    self._namespace / format_version(number) / METADATA_FILE
                ).digest
            except RegistryError:
                continue  # a damaged version is `verify`'s business; it is retried next time
        self._append(new)

    def find(self, digest: str) -> int | None:
        """The first version holding content `digest`, or None."""
        return min((n for n, d in self._digests.items() if d == digest), default=None)

    def add(self, digest: str, number: int) -> None:
        """Record a version just published under the lock."""
        self._append({number: digest})

    def _append(self, entries: dict[int, str]) -> None:
        if not entries:
            return
        self._digests.update(entries)
        self._path.parent.mkdir(exist_ok=True)
        # No fsync: a line lost in a crash only means that version is read again next time.
        with open(self._path, "a") as handle:
            handle.write("".join(f"{n} {d}\n" for n, d in entries.items()))
