"""The library versions recorded in every artifact and registry entry."""

from __future__ import annotations

import functools
from importlib import metadata

# Libraries whose versions decide whether a stored prefix can be loaded and behaves the same.
RECORDED_LIBRARIES = ("prefixes", "torch", "transformers", "safetensors")


@functools.cache
def library_versions() -> dict[str, str]:
    """Installed versions of ``RECORDED_LIBRARIES``, read from package metadata (nothing imported).

    Cached per process: installed versions do not change under a running interpreter in any way
    it could use. Callers that keep the result copy it (``dict(library_versions())``).
    """
    versions: dict[str, str] = {}
    for name in RECORDED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
