"""A local cache of content digest -> version number for one task/method, for duplicate checks.

Publishing must recognise identical content among all existing versions. Reading every version's
metadata would make each publish O(versions), so the digests are cached in `.digests.json`. The
cache is only a shortcut: versions are immutable, so it is refreshed from the directory listing
(reading only versions it has not seen) and rebuilt when a version it knew has disappeared. It is
not versioned in git; a fresh clone rebuilds it on the first publish.
"""

from __future__ import annotations

import json
from pathlib import Path

from prefixes.registry.artifact import METADATA_FILE
from prefixes.registry.atomic import write_atomic
from prefixes.registry.errors import RegistryError
from prefixes.registry.metadata import read_metadata
from prefixes.registry.names import format_version

DIGEST_CACHE_FILE = ".digests.json"


class DigestIndex:
    """Digest lookup for the versions in `namespace`; use it only while holding the namespace lock."""

    def __init__(self, namespace: Path) -> None:
        self._path = namespace / DIGEST_CACHE_FILE
        self._namespace = namespace
        self._seen: set[int] = set()
        self._digests: dict[str, int] = {}
        try:
            data = json.loads(self._path.read_bytes())
            self._seen = {int(number) for number in data["seen"]}
            self._digests = {str(digest): int(number) for digest, number in data["digests"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            # Missing or unreadable cache: start empty, `refresh` rebuilds it from the versions.
            self._seen, self._digests = set(), {}

    def refresh(self, numbers: set[int]) -> None:
        """Bring the cache up to date with the version numbers currently on disk."""
        if not self._seen <= numbers:
            self._seen, self._digests = set(), {}
        new = numbers - self._seen
        for number in sorted(new):
            path = self._namespace / format_version(number) / METADATA_FILE
            try:
                digest = read_metadata(path).digest
            except RegistryError:
                # A damaged version is `verify`'s business; leave it unseen so it is retried.
                continue
            self._digests.setdefault(digest, number)
            self._seen.add(number)
        if new:
            self._save()

    def find(self, digest: str) -> int | None:
        """The first version holding content `digest`, or None."""
        return self._digests.get(digest)

    def add(self, digest: str, number: int) -> None:
        """Record a version just published under the lock."""
        self._digests.setdefault(digest, number)
        self._seen.add(number)
        self._save()

    def _save(self) -> None:
        data = {"seen": sorted(self._seen), "digests": self._digests}
        write_atomic(self._path, json.dumps(data, separators=(",", ":")).encode())
