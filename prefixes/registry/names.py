"""Validation of the names that become path components: tasks, methods, aliases and versions.

Names are checked before anything touches the disk, so a name such as `../x` can neither escape the
registry root nor leave a half-written directory behind.
"""

from __future__ import annotations

import re

from prefixes.names import NAME_PATTERN, is_valid_name
from prefixes.registry.errors import InvalidNameError

# Top-level entries of the registry root that a task directory must not shadow.
RESERVED_TASK_NAMES = frozenset({"registry.json", "readme.md"})

LATEST = "latest"

# Written by the registry next to the artifact files of every version; never an artifact file.
METADATA_FILE = "metadata.json"

# `vN` with any digits, leading zeros included: `get` would read `v01` as a (missing) version, so
# such a name can never work as an alias.
_VERSION_LIKE = re.compile(r"v[0-9]+")
_MAX_FILE_NAME_BYTES = 255


def validate_name(field: str, value: object) -> str:
    """Return `value` if it is a safe name for `field`, else raise `InvalidNameError`.

    The pattern already excludes `/`, `\\`, NUL, absolute paths and a leading dot; `..` is checked
    separately because the pattern allows single dots inside a name (`sst2.v2-data`).
    """
    if not isinstance(value, str) or not is_valid_name(value):
        raise InvalidNameError(
            f"invalid {field} name {value!r}: it must match {NAME_PATTERN} (lowercase letters, "
            "digits, '_', '.', '-', at most 64 characters, starting with a letter or digit) "
            "and must not contain '..'"
        )
    return value


def validate_task(value: object) -> str:
    """Validate a task name, which also must not collide with the registry's own root files."""
    name = validate_name("task", value)
    if name in RESERVED_TASK_NAMES:
        raise InvalidNameError(
            f"invalid task name {name!r}: it is reserved for the registry's own files"
        )
    return name


def validate_alias(value: object) -> str:
    """Validate an alias name; `latest` and `vN` are refused since `get` reads them as versions."""
    name = validate_name("alias", value)
    if name == LATEST or _VERSION_LIKE.fullmatch(name):
        raise InvalidNameError(
            f"invalid alias name {name!r}: 'latest' and names like 'v3', 'v0' or 'v01' look like "
            "versions; use a word such as 'production' or 'staging'"
        )
    return name


def file_name_problem(value: str) -> str | None:
    """Why `value` cannot name an artifact file inside a version directory, or None if it can.

    Names come from metadata.json, which anyone can edit, and are joined to the version's path
    before any file is read: only a plain name keeps that read inside the version.
    """
    if value in ("", ".", ".."):
        return "it must be a file name, not empty, '.' or '..'"
    if "/" in value or "\\" in value:
        return "it must be a plain file name without '/' or '\\'"
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        return "it must not contain control characters"
    if len(value.encode("utf-8", "surrogatepass")) > _MAX_FILE_NAME_BYTES:
        return f"it must be at most {_MAX_FILE_NAME_BYTES} bytes long"
    if value == METADATA_FILE:
        return f"'{METADATA_FILE}' is the registry's own file, not an artifact file"
    return None


def parse_version(name: str) -> int | None:
    """Return N for a version directory name `vN`, or None for anything else (temp files, aliases).

    Versions have no leading zeros, so every number has exactly one spelling. String methods
    instead of a regex: this runs once per directory entry when `latest` is computed.
    """
    digits = name[1:]
    if name[:1] != "v" or not digits.isascii() or not digits.isdigit() or digits[0] == "0":
        return None
    return int(digits)


def format_version(number: int) -> str:
    """Return the directory name of version `number`."""
    return f"v{number}"
