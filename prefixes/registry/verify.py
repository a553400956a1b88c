"""Integrity checks of stored versions against the hashes recorded at publish time."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from prefixes.registry.aliases import ALIASES_FILE, read_aliases
from prefixes.registry.artifact import METADATA_FILE, content_digest, hash_file
from prefixes.registry.errors import RegistryError
from prefixes.registry.index import version_numbers
from prefixes.registry.metadata import EntryMetadata, read_metadata
from prefixes.registry.names import format_version, parse_version
from prefixes.registry.reading import NotRegularFileError


@dataclass(frozen=True)
class Problem:
    """One mismatch: which entry, which file, what was expected and what was found."""

    entry: str
    file: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"{self.entry}: {self.file}: expected {self.expected}, found {self.actual}"


@dataclass
class VerifyReport:
    """Result of `Registry.verify()`: `ok` is True exactly when no problem was found."""

    entries_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_files(entry: str, path: Path, metadata: EntryMetadata) -> list[Problem]:
    """Compare the files in version directory `path` with `metadata.files` and its digest.

    File names were validated as plain names when the metadata was read, and every file is opened
    without following symlinks, so nothing outside the version is ever read.
    """
    problems: list[Problem] = []
    expected_names = {record.name for record in metadata.files}
    present = {name for name in os.listdir(path) if name != METADATA_FILE}
    for name in sorted(present - expected_names):
        problems.append(Problem(entry, name, "no such file", "unexpected file"))
    for record in metadata.files:
        try:
            sha, size = hash_file(path / record.name)
        except FileNotFoundError:
            problems.append(Problem(entry, record.name, f"sha256 {record.sha256}", "missing"))
            continue
        except NotRegularFileError as error:
            problems.append(Problem(entry, record.name, "regular file", error.kind))
            continue
        except OSError as error:
            problems.append(Problem(entry, record.name, "readable file", str(error.strerror)))
            continue
        if size != record.size:
            problems.append(Problem(entry, record.name, f"size {record.size}", f"size {size}"))
        if sha != record.sha256:
            problems.append(Problem(entry, record.name, f"sha256 {record.sha256}", f"sha256 {sha}"))
    return problems


def check_identity(
    entry: str, metadata: EntryMetadata, task: str, method: str, version: str
) -> list[Problem]:
    """A version directory copied, swapped or renamed by hand no longer matches its own metadata.

    Every read checks this (it costs no file read beyond metadata.json): the hashes of a swapped
    folder all pass, so only its recorded identity tells v4 from v5, or task t from task u.
    """
    problems = []
    for name, expected, actual in (
        ("task", task, metadata.task),
        ("method", method, metadata.method),
        ("version", version, metadata.version),
        ("digest", content_digest(metadata.files), metadata.digest),
    ):
        if expected != actual:
            problems.append(Problem(entry, METADATA_FILE, f"{name} {expected}", f"{name} {actual}"))
    return problems


def read_back(stage: Path, written: EntryMetadata) -> None:
    """Read a staged version the way `get` and `load` will, before the rename makes it visible.

    What does not read back as it was written (a metadata.json over the size limit, a lossy value,
    a file changed while it was copied) is refused while nothing is visible yet.
    """
    ref = f"{written.task}/{written.method}/{written.version}"
    try:
        metadata = read_metadata(stage / METADATA_FILE)
    except RegistryError as error:
        raise RegistryError(f"cannot publish {ref}: its metadata would not read back ({error}); nothing was published") from None
    problems = check_identity(ref, metadata, written.task, written.method, written.version)
    problems += check_files(ref, stage, metadata)
    if metadata.model_dump(mode="json") != written.model_dump(mode="json"):
        problems.append(Problem(ref, METADATA_FILE, "the metadata as written", "other values"))
    if problems:
        raise RegistryError(
            f"cannot publish {ref}: the staged version does not read back as written "
            f"({'; '.join(map(str, problems))}); nothing was published"
        )


def verify_namespace(namespace: Path, report: VerifyReport) -> None:
    """Check every version of `<task>/<method>` and every alias target, adding to `report`."""
    task, method = namespace.parent.name, namespace.name
    numbers = version_numbers(namespace)
    for number in sorted(numbers):
        version = format_version(number)
        ref = f"{task}/{method}/{version}"
        report.entries_checked += 1
        if os.path.islink(namespace / version):  # its files would be read from elsewhere
            report.problems.append(Problem(ref, "", "a directory", "symbolic link"))
            continue
        try:
            metadata = read_metadata(namespace / version / METADATA_FILE)
        except RegistryError as error:
            report.problems.append(Problem(ref, METADATA_FILE, "valid metadata", str(error)))
            continue
        report.problems += check_identity(ref, metadata, task, method, version)
        report.problems += check_files(ref, namespace / version, metadata)
    try:
        aliases = read_aliases(namespace / ALIASES_FILE).aliases
    except RegistryError as error:
        report.problems.append(Problem(f"{task}/{method}", ALIASES_FILE, "valid", str(error)))
        return
    for alias, version in sorted(aliases.items()):
        if parse_version(version) is None:
            report.problems.append(Problem(
                f"{task}/{method}", ALIASES_FILE, f"{alias} -> a version name like v3",
                f"{alias} -> {version!r}",
            ))
        elif parse_version(version) not in numbers:
            report.problems.append(Problem(
                f"{task}/{method}", ALIASES_FILE, f"{alias} -> existing version",
                f"{alias} -> missing {version}",
            ))
