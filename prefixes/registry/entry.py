"""`Entry`: one published version, as returned by `Registry.get`, `list` and `publish`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefixes.registry.errors import IntegrityError
from prefixes.registry.metadata import EntryMetadata
from prefixes.registry.verify import Problem, check_files


@dataclass(frozen=True)
class Entry:
    """One published version: its metadata and its directory."""

    metadata: EntryMetadata
    path: Path

    @property
    def ref(self) -> str:
        """`task/method/vN`, how the entry is named in messages and reports."""
        return f"{self.metadata.task}/{self.metadata.method}/{self.path.name}"

    def verify(self) -> list[Problem]:
        """Re-hash the stored files and compare them with the metadata."""
        return check_files(self.ref, self.path, self.metadata)

    def load(self, base_model: Any = None) -> Any:
        """Verify every file hash, then load the adapter with `prefixes.model.load_adapter`.

        `base_model` is passed through: None lets the loader load the recorded base model.
        """
        problems = self.verify()
        if problems:
            listing = "\n".join(f"  {problem}" for problem in problems)
            raise IntegrityError(
                f"refusing to load {self.ref} from {self.path}: its files do not match the hashes "
                f"recorded at publish time:\n{listing}\nrestore the version from git "
                "(`git checkout -- <path>`) and run `prefixes registry verify`"
            )
        from prefixes.model import load_adapter  # the model stack is heavy; only loading needs it

        return load_adapter(self.path, base_model=base_model)


@dataclass
class Listing:
    """Result of `Registry.scan`: the readable versions and one problem per unreadable one."""

    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
