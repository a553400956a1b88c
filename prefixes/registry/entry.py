"""`Entry`: one published version, as returned by `Registry.get`, `list` and `publish`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefixes.registry.errors import IntegrityError
from prefixes.registry.metadata import EntryMetadata, read_metadata
from prefixes.registry.names import METADATA_FILE
from prefixes.registry.verify import Problem, check_files, check_identity


@dataclass(frozen=True)
class Entry:
    """One published version: its metadata and its directory."""

    metadata: EntryMetadata
    path: Path

    @property
    def ref(self) -> str:
        """`task/method/vN` of the folder, how the entry is named in messages and reports."""
        return f"{self.path.parent.parent.name}/{self.path.parent.name}/{self.path.name}"

    def identity_problems(self) -> list[Problem]:
        """Where the metadata names another task, method, version or digest than the folder holds."""
        task, method = self.path.parent.parent.name, self.path.parent.name
        return check_identity(self.ref, self.metadata, task, method, self.path.name)

    def verify(self) -> list[Problem]:
        """Confirm the version's identity, re-hash the stored files and compare them with the metadata."""
        return self.identity_problems() + check_files(self.ref, self.path, self.metadata)

    def load(self, base_model: Any = None) -> Any:
        """Verify every file hash, then load the artifact with `prefixes.load`, the one load path.

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
        from prefixes.loading import load  # the model stack is heavy; only loading needs it

        return load(self.path, base_model=base_model)


def read_entry(path: Path) -> Entry:
    """The version in folder `path`, refused when the folder is a link or holds another version."""
    if os.path.islink(path):
        raise IntegrityError(
            f"{path} is a symbolic link; a version must be a directory inside the registry "
            "(restore it from git)"
        )
    entry = Entry(metadata=read_metadata(path / METADATA_FILE), path=path)
    problems = entry.identity_problems()
    if problems:
        raise IntegrityError(
            f"{entry.ref} is not the version its folder names ({'; '.join(map(str, problems))}); the folder "
            f"was copied, swapped or renamed by hand: restore {path} from git and run `prefixes registry verify`"
        )
    return entry


@dataclass
class Listing:
    """Result of `Registry.scan`: the readable versions and one problem per unreadable one."""

    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
