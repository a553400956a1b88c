"""The registry: immutable, content-addressed versions of folded prefixes per task and method.

On-disk layout (see registry/README.md):

    <root>/registry.json                  {"layout_version": 1}
    <root>/<task>/<method>/v<N>/          prefix_config.json, prefix.safetensors, metadata.json
    <root>/<task>/<method>/aliases.json   alias -> version, plus the history of every move
    <root>/.staging/                      publishers' temp dirs (ignored by readers, not in git)

A version appears through one atomic `os.rename` of a fully written, fsync'd staging directory, so
readers see a complete version or none. `latest` is the highest N on disk, computed on each call.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from prefixes.registry.aliases import ALIASES_FILE, AliasEvent, AliasFile, current_user, move_alias
from prefixes.registry.aliases import read_aliases
from prefixes.registry.artifact import METADATA_FILE, content_digest, copy_and_hash, hash_file
from prefixes.registry.artifact import read_artifact
from prefixes.registry.atomic import exclusive_lock, fsync_dir, try_lock, write_atomic
from prefixes.registry.atomic import write_durable
from prefixes.registry.errors import EntryNotFoundError, IntegrityError, RegistryError
from prefixes.registry.errors import SchemaVersionError
from prefixes.registry.index import DigestIndex
from prefixes.registry.metadata import SCHEMA_VERSION, BaseModelInfo, EntryMetadata, FileRecord
from prefixes.registry.metadata import read_metadata
from prefixes.registry.names import LATEST, format_version, is_valid_name, parse_version
from prefixes.registry.names import validate_alias, validate_name, validate_task
from prefixes.registry.provenance import dvc_info, git_info, library_versions
from prefixes.registry.verify import Problem, VerifyReport, check_files, check_identity

LAYOUT_FILE = "registry.json"
LAYOUT_VERSION = 1
STAGING_DIR = ".staging"
LOCK_FILE = ".lock"
# A staging dir is only removed once its publisher is gone (its lock is free) and it is this old.
STALE_STAGING_S = 60.0
_GITIGNORE = (
    "# Local state of prefixes.registry: locks, staging dirs and caches are never versioned.\n"
    ".staging/\n.lock\n.digests.json\n.tmp-*\n"
)


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
        """Verify every file hash, then load the adapter with `prefixes.model.load_adapter`."""
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


class Registry:
    """A registry rooted at `root`; nothing is written until the first `publish`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._check_layout()

    # ----- reading -------------------------------------------------------------------------------

    def get(self, task: str, method: str = "prefix", version: str = LATEST) -> Entry:
        """Return `version` ('latest', 'vN' or an alias) of `task`/`method`."""
        namespace = self._namespace(task, method)
        return self._entry(namespace / self._resolve(namespace, version))

    def list(self, task: str | None = None, method: str | None = None) -> list[Entry]:
        """All versions, optionally of one task and/or method, ordered by task, method, N."""
        tasks = [validate_task(task)] if task is not None else _subdirs(self.root)
        entries: list[Entry] = []
        for task_name in tasks:
            task_dir = self.root / task_name
            methods = [validate_name("method", method)] if method is not None else _subdirs(task_dir)
            for method_name in methods:
                namespace = task_dir / method_name
                for number in sorted(_version_numbers(namespace)):
                    entries.append(self._entry(namespace / format_version(number)))
        return entries

    def aliases(self, task: str, method: str = "prefix") -> AliasFile:
        """Current aliases and their history for `task`/`method`."""
        return read_aliases(self._namespace(task, method) / ALIASES_FILE)

    def verify(self) -> VerifyReport:
        """Check every version's files, digest and identity, and every alias target."""
        report = VerifyReport()
        if not self.root.is_dir():
            report.problems.append(Problem(str(self.root), "", "registry directory", "missing"))
            return report
        for task in _subdirs(self.root):
            for method in _subdirs(self.root / task):
                self._verify_namespace(task, method, report)
        return report

    def _verify_namespace(self, task: str, method: str, report: VerifyReport) -> None:
        namespace = self.root / task / method
        numbers = _version_numbers(namespace)
        for number in sorted(numbers):
            version = format_version(number)
            ref = f"{task}/{method}/{version}"
            report.entries_checked += 1
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
            if parse_version(version) not in numbers:
                report.problems.append(
                    Problem(f"{task}/{method}", ALIASES_FILE, f"{alias} -> existing version",
                            f"{alias} -> missing {version}")
                )

    # ----- writing -------------------------------------------------------------------------------

    def publish(
        self,
        artifact_dir: str | Path,
        *,
        task: str,
        method: str,
        training_params: dict[str, Any] | None = None,
        metrics: dict[str, float] | None = None,
        dataset_fingerprint: str | None = None,
        dvc_lock: str | Path | None = None,
        dvc_stage: str | None = None,
    ) -> Entry:
        """Store a folded artifact as the next version; identical content returns the existing one.

        Everything that can be wrong with the inputs is checked before the first write.
        """
        namespace = self._namespace(task, method)
        config, files = read_artifact(Path(artifact_dir))
        records = [_record(path) for path in files]
        try:
            draft = EntryMetadata(
                schema_version=SCHEMA_VERSION,
                task=task,
                method=method,
                # A first guess, confirmed (or bumped) under the lock when the version is claimed.
                version=format_version(max(_version_numbers(namespace), default=0) + 1),
                created_at=datetime.now(timezone.utc),
                digest=content_digest(records),
                form="folded",
                adapter_method=config.method,
                task_type=config.task_type,
                base_model=BaseModelInfo(**config.base_model.model_dump()),
                method_config=config.method_config,
                shape=config.resolved_shape(),
                training_params=training_params or {},
                metrics=metrics or {},
                dataset_fingerprint=dataset_fingerprint,
                git=git_info(Path.cwd(), self.root),
                dvc=dvc_info(None if dvc_lock is None else Path(dvc_lock), dvc_stage),
                library_versions=dict(library_versions()),
                artifact_library_versions=config.library_versions,
                files=records,
            )
            draft.to_json()  # unserialisable training params must fail here, before any write
        except (ValidationError, PydanticSerializationError) as error:
            raise RegistryError(f"cannot publish {artifact_dir}: {error}") from None

        self._ensure_layout()
        self._clean_stale_staging()
        with self._staging() as stage:
            for path, record in zip(files, records):
                if copy_and_hash(path, stage / path.name) != record:
                    raise RegistryError(
                        f"{path} changed while it was being published; publish again once the "
                        "artifact is completely written"
                    )
            fsync_dir(stage)
            _make_dirs(namespace)
            with exclusive_lock(namespace / LOCK_FILE):
                index = DigestIndex(namespace)
                index.refresh(_version_numbers(namespace))
                existing = index.find(draft.digest)
                if existing is not None:
                    return self._entry(namespace / format_version(existing))
                number = _claim_version(stage, namespace, draft)
                index.add(draft.digest, number)
        return self._entry(namespace / format_version(number))

    def promote(
        self, task: str, method: str, version: str, alias: str, *, by: str | None = None
    ) -> AliasEvent:
        """Point `alias` at `version` (resolved now, so 'latest' pins today's latest)."""
        alias = validate_alias(alias)
        target = self.get(task, method, version)
        problems = target.verify()
        if problems:
            raise IntegrityError(
                f"refusing to promote {target.ref}: "
                + "; ".join(str(problem) for problem in problems)
            )
        namespace = target.path.parent
        with exclusive_lock(namespace / LOCK_FILE):
            return move_alias(namespace / ALIASES_FILE, alias, target.path.name, by or current_user())

    # ----- internals -----------------------------------------------------------------------------

    def _namespace(self, task: str, method: str) -> Path:
        return self.root / validate_task(task) / validate_name("method", method)

    def _resolve(self, namespace: Path, version: str) -> str:
        ref = f"{namespace.parent.name}/{namespace.name}"
        if version == LATEST:
            numbers = _version_numbers(namespace)
            if not numbers:
                raise EntryNotFoundError(f"no versions of {ref} in registry {self.root}")
            return format_version(max(numbers))
        if parse_version(version) is not None:
            if not (namespace / version).is_dir():
                raise EntryNotFoundError(f"{ref}/{version} does not exist in registry {self.root}")
            return version
        aliases = read_aliases(namespace / ALIASES_FILE).aliases
        if validate_name("version", version) not in aliases:
            known = ", ".join(sorted(aliases)) or "none"
            raise EntryNotFoundError(
                f"{version!r} is not 'latest', a version like 'v3', or an alias of {ref} "
                f"(aliases: {known})"
            )
        return aliases[version]

    def _entry(self, path: Path) -> Entry:
        return Entry(metadata=read_metadata(path / METADATA_FILE), path=path)

    def _check_layout(self) -> None:
        path = self.root / LAYOUT_FILE
        try:
            layout = json.loads(path.read_bytes())
        except FileNotFoundError:
            return
        except ValueError as error:
            raise RegistryError(f"{path} is not valid JSON: {error}") from None
        version = layout.get("layout_version") if isinstance(layout, dict) else None
        if not isinstance(version, int):
            raise RegistryError(f"{path} lacks an integer 'layout_version'")
        if version > LAYOUT_VERSION:
            raise SchemaVersionError(
                f"registry {self.root} has layout_version {version}, but this version of prefixes "
                f"reads layout versions up to {LAYOUT_VERSION}; upgrade prefixes "
                "(pip install -U prefixes) to use it"
            )

    def _ensure_layout(self) -> None:
        _make_dirs(self.root / STAGING_DIR)
        for name, content in ((LAYOUT_FILE, json.dumps({"layout_version": LAYOUT_VERSION}) + "\n"),
                              (".gitignore", _GITIGNORE)):
            if not (self.root / name).exists():
                write_atomic(self.root / name, content.encode())

    @contextmanager
    def _staging(self) -> Iterator[Path]:
        """A fresh staging dir, guarded by a held lock file so cleaners know its owner is alive."""
        fd, lock_path = tempfile.mkstemp(prefix="publish-", suffix=".lock",
                                         dir=self.root / STAGING_DIR)
        stage = Path(lock_path.removesuffix(".lock"))
        try:
            try_lock(fd)  # the file is brand new, so nobody else can hold it yet
            stage.mkdir()
            yield stage
        finally:
            shutil.rmtree(stage, ignore_errors=True)  # already gone after a successful rename
            os.unlink(lock_path)
            os.close(fd)

    def _clean_stale_staging(self) -> None:
        """Remove staging dirs of publishers that died (lock free) more than a minute ago."""
        now = time.time()
        for entry in os.scandir(self.root / STAGING_DIR):
            if not entry.name.endswith(".lock"):
                continue
            try:
                if now - entry.stat().st_mtime < STALE_STAGING_S:
                    continue
                fd = os.open(entry.path, os.O_RDWR)
            except FileNotFoundError:  # another cleaner or its owner was faster
                continue
            try:
                if try_lock(fd):
                    shutil.rmtree(entry.path.removesuffix(".lock"), ignore_errors=True)
                    Path(entry.path).unlink(missing_ok=True)
            finally:
                os.close(fd)


def _claim_version(stage: Path, namespace: Path, draft: EntryMetadata) -> int:
    """Rename `stage` to the next free `vN` and return N (caller holds the namespace lock).

    The lock makes collisions rare (only writers that bypass it); on one, N+1 is tried. `rename`
    onto an existing non-empty directory fails, and a version is never empty, so a stored version
    can never be replaced.
    """
    number = max(_version_numbers(namespace), default=0) + 1
    while True:
        metadata = draft.model_copy(
            update={"version": format_version(number), "created_at": datetime.now(timezone.utc)}
        )
        write_durable(stage / METADATA_FILE, metadata.to_json().encode())
        fsync_dir(stage)
        try:
            os.rename(stage, namespace / format_version(number))
        except OSError as error:
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            number += 1
            continue
        fsync_dir(namespace)
        return number


def _record(path: Path) -> FileRecord:
    sha, size = hash_file(path)
    return FileRecord(name=path.name, sha256=sha, size=size)


def _version_numbers(namespace: Path) -> set[int]:
    """N of every `vN` entry, from the directory listing alone (no metadata is read)."""
    try:
        names = os.listdir(namespace)
    except FileNotFoundError:
        return set()
    return {number for number in map(parse_version, names) if number is not None}


def _subdirs(path: Path) -> list[str]:
    """Sorted task or method directories under `path`; hidden and temporary entries are skipped."""
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return []
    return sorted(e.name for e in entries if is_valid_name(e.name) and e.is_dir())


def _make_dirs(path: Path) -> None:
    """Create `path` and its parents, fsync'ing each parent whose listing changed."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:  # a concurrent publisher created it first
            continue
        fsync_dir(directory.parent)
