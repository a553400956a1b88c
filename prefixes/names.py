"""The one rule for names that become path components (tasks, methods, aliases), shared by the
registry and by anything that must refuse a name before work starts (params validation)."""

from __future__ import annotations

import re

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
_NAME_RE = re.compile(NAME_PATTERN)


def is_valid_name(value: str) -> bool:
    """True for safe names: the pattern excludes `/`, `\\`, NUL and a leading dot; `..` is refused
    separately because single dots may appear inside a name (`sst2.v2-data`)."""
    return bool(_NAME_RE.fullmatch(value)) and ".." not in value
