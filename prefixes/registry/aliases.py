"""Aliases (`production`, `staging`, ...) per task and method, with their full history.

Aliases are the only mutable part of the registry, so every change is appended to a history that
is never rewritten: who moved which alias, when, from which version to which.
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prefixes.io import write_atomic
from prefixes.registry.errors import EntryNotFoundError, IntegrityError, RegistryError, describe_validation
from prefixes.registry.names import parse_version
from prefixes.registry.reading import read_document

ALIASES_FILE = "aliases.json"
# A damaged aliases file that `promote` replaces is kept beside it under this name plus a time.
DAMAGED_SUFFIX = ".damaged-"

logger = logging.getLogger(__name__)


class AliasEvent(BaseModel):
    """One move of an alias."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alias: str
    from_version: str | None = Field(description="Version before the move; null when new.")
    to_version: str
    by: str = Field(description="user@host of whoever moved it.")
    at: datetime


class AliasFile(BaseModel):
    """Content of `<task>/<method>/aliases.json`."""

    model_config = ConfigDict(extra="forbid")

    aliases: dict[str, str] = Field(default_factory=dict, description="alias -> version name.")
    history: list[AliasEvent] = Field(default_factory=list, description="Oldest first.")


def read_aliases(path: Path) -> AliasFile:
    """Read an aliases file; a missing file means no aliases yet.

    Targets are not checked here: a hand-edited target must not lock anyone out of `promote`,
    which is how it gets fixed. `Registry.get` checks the target of the alias it resolves.
    """
    try:
        text = read_document(path)
    except FileNotFoundError:
        return AliasFile()
    try:
        return AliasFile.model_validate_json(text)
    except ValidationError as error:
        raise RegistryError(
            f"{path} is not a valid aliases file: {describe_validation(error)}"
        ) from None


def current_user() -> str:
    """`user@host` for the history; containers without a passwd entry still get a host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def move_alias(path: Path, alias: str, version: str, by: str) -> AliasEvent:
    """Point `alias` at `version` and append the move to the history (caller holds the lock).

    An unreadable aliases file does not block the move, which is how it gets repaired: the damaged
    file is kept beside the new one (its history can be recovered by hand) and named in a warning.
    """
    try:
        state = read_aliases(path)
    except RegistryError as error:
        kept = path.with_name(f"{path.name}{DAMAGED_SUFFIX}{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}")
        os.rename(path, kept)  # a link or a directory is moved as it is, never followed
        logger.warning("%s was unreadable (%s); it was kept as %s and a new alias file starts with this move",
                       path, error, kept.name)
        state = AliasFile()
    event = AliasEvent(
        alias=alias,
        from_version=state.aliases.get(alias),
        to_version=version,
        by=by,
        at=datetime.now(UTC),
    )
    state.aliases[alias] = version
    state.history.append(event)
    write_atomic(path, (state.model_dump_json(indent=2) + "\n").encode())
    return event


def alias_target(namespace: Path, ref: str, alias: str, target: str) -> str:
    """`target` if it names an existing version of `namespace`; aliases.json is hand-editable."""
    if parse_version(target) is None:
        raise IntegrityError(
            f"alias {alias!r} of {ref} points at {target!r}, which is not a version name like "
            f"'v3'; aliases.json was damaged or edited: point it at a version with `prefixes "
            f"registry promote {namespace.parent.name} --method {namespace.name} --version vN "
            f"--alias {alias}`"
        )
    if not os.path.isdir(namespace / target):
        raise EntryNotFoundError(
            f"alias {alias!r} of {ref} points at {target}, which does not exist; promote an "
            "existing version to it"
        )
    return target
