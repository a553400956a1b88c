"""Exceptions raised by the registry.

Every error is a `RegistryError`, so a caller (the CLI in particular) can turn any of them into a
one-line message for people without catching unrelated bugs.
"""

from __future__ import annotations

from pydantic import ValidationError


class RegistryError(Exception):
    """Base class of every error the registry raises on purpose."""


class InvalidNameError(RegistryError, ValueError):
    """A task, method, alias or version name is not allowed (checked before anything is written)."""


class ArtifactError(RegistryError, ValueError):
    """The directory given to `publish` is not a folded prefix artifact."""


class EntryNotFoundError(RegistryError, LookupError):
    """No version, alias or task matches the request."""


class SchemaVersionError(RegistryError):
    """Metadata or layout written by a newer `prefixes` than the one running."""


class IntegrityError(RegistryError):
    """Stored files no longer match the hashes recorded when they were published."""


def describe_validation(error: ValidationError) -> str:
    """A pydantic error on one line: `field: problem (got value)` per error, joined by '; '.

    Command-line errors are one line; pydantic's own text spreads each error over several.
    """
    parts = []
    for detail in error.errors(include_url=False):
        field = ".".join(map(str, detail["loc"])) or "(document)"
        got = repr(detail.get("input"))
        got = got if len(got) <= 80 else got[:77] + "..."
        parts.append(f"{field}: {detail['msg']} (got {got})")
    return "; ".join(parts)
