"""The registry: immutable, content-addressed versions of folded prefixes per task and method.

On-disk layout (see registry/README.md):

    <root>/registry.json                  {"layout_version": 1}
    <root>/<task>/<method>/v<N>/          prefix_config.json, prefix.safetensors, metadata.json
    <root>/<task>/<method>/aliases.json   alias -> version, plus the history of every move
    <root>/.staging/                      publishers' temp dirs (ignored by readers, not in git)
    <root>/.cache/                        look-up caches, validated before use (not in git)

A version appears through one atomic `os.rename` of a fully written, fsync'd staging directory, so
readers see a complete version or none. `latest` is the highest N on disk, computed on each call.
"""

from __future__ import annotations

import builtins
import json
import os
from pathlib import Path
from typing import Any

from prefixes.io import TEMP_PREFIX, fsync_dir, write_atomic
from prefixes.registry.aliases import (
    ALIASES_FILE,
    AliasEvent,
    AliasFile,
    alias_target,
    current_user,
    move_alias,
    read_aliases,
)
from prefixes.registry.artifact import METADATA_FILE, check_artifact, copy_and_hash, hash_file, publishable_files
from prefixes.registry.atomic import exclusive_lock
from prefixes.registry.draft import build_draft, check_method
from prefixes.registry.entry import Entry, Listing, read_entry
from prefixes.registry.errors import EntryNotFoundError, IntegrityError, RegistryError, SchemaVersionError
from prefixes.registry.index import CACHE_DIR, DigestIndex, latest_version, version_numbers
from prefixes.registry.metadata import DvcInfo, EntryMetadata, FileRecord
from prefixes.registry.names import LATEST, format_version, parse_version, validate_alias, validate_name, validate_task
from prefixes.registry.reading import link_error, named_subdirs, read_document
from prefixes.registry.staging import STAGING_DIR, claim_version, clean_stale_staging, make_dirs, staging_dir
from prefixes.registry.verify import Problem, VerifyReport, verify_namespace

LAYOUT_FILE = "registry.json"
LAYOUT_VERSION = 1
LOCK_FILE = ".lock"
_GITIGNORE = (
    "# Local state of prefixes.registry: locks, staging dirs and caches are never versioned.\n"
    f"{STAGING_DIR}/\n{CACHE_DIR}/\n{LOCK_FILE}\n{TEMP_PREFIX}*\n"
)


class Registry:
    """A registry rooted at `root`; nothing is written until the first `publish`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._check_layout()

    # ----- reading -------------------------------------------------------------------------------

    def get(self, task: str, method: str, version: str = LATEST) -> Entry:
        """Return `version` ('latest', 'vN' or an alias) of `task`/`method`."""
        namespace = self._namespace(task, method)
        return read_entry(namespace / self._resolve(namespace, version))

    def list(self, task: str | None = None, method: str | None = None) -> list[Entry]:
        """All versions, optionally of one task and/or method, ordered by task, method, N.

        Raises `RegistryError` naming every unreadable version; `scan` lists around them.
        """
        listing = self.scan(task, method)
        if listing.problems:
            raise RegistryError(
                f"{len(listing.problems)} unreadable versions in registry {self.root}: "
                + "; ".join(f"{problem.entry}: {problem.actual}" for problem in listing.problems)
            )
        return listing.entries

    def scan(self, task: str | None = None, method: str | None = None) -> Listing:
        """Like `list`, but an unreadable version, or a linked task or method folder, is reported in
        `problems` (by name) instead of raising."""
        listing = Listing()
        if task is not None:
            tasks = [validate_task(task)]
            if os.path.islink(self.root / task):
                tasks = []
                listing.problems.append(Problem(task, "", "a directory", str(link_error(self.root / task, self.root))))
        else:
            tasks = self._children(self.root, "", listing.problems)
        for task_name in tasks:
            task_dir = self.root / task_name
            only = validate_name("method", method) if method is not None else None
            for method_name in self._children(task_dir, f"{task_name}/", listing.problems, only):
                namespace = task_dir / method_name
                for number in sorted(version_numbers(namespace)):
                    version = format_version(number)
                    try:
                        listing.entries.append(read_entry(namespace / version))
                    except RegistryError as error:
                        ref = f"{task_name}/{method_name}/{version}"
                        listing.problems.append(Problem(ref, METADATA_FILE, "readable", str(error)))
        return listing

    def aliases(self, task: str, method: str) -> AliasFile:
        """Current aliases and their history for `task`/`method`."""
        return read_aliases(self._namespace(task, method) / ALIASES_FILE)

    def verify(self) -> VerifyReport:
        """Check every version's files, digest and identity, and every alias target."""
        report = VerifyReport()
        if not self.root.is_dir():
            report.problems.append(Problem(str(self.root), "", "registry directory", "missing"))
            return report
        for task in self._children(self.root, "", report.problems):
            for method in self._children(self.root / task, f"{task}/", report.problems):
                verify_namespace(self.root / task / method, report)
        return report

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
        dvc: DvcInfo | None = None,
    ) -> Entry:
        """Store a folded artifact as the next version; identical content returns the existing one.

        Everything that can be wrong with the inputs is checked before the first write.
        """
        namespace = self._namespace(task, method)
        config, files = publishable_files(Path(artifact_dir))
        check_method(method, config, Path(artifact_dir))
        records = [_record(path) for path in files]
        draft = build_draft(
            config, records, task=task, method=method,
            # A first guess, confirmed (or bumped) under the lock when the version is claimed.
            version=format_version((latest_version(namespace) or 0) + 1),
            root=self.root,
            training_params=training_params or {},
            metrics=metrics or {},
            dataset_fingerprint=dataset_fingerprint,
            dvc=dvc,
        )
        self._refuse_links(namespace)
        return self._store(files, records, namespace, draft)

    def _store(
        self, files: builtins.list[Path], records: builtins.list[FileRecord], namespace: Path, draft: EntryMetadata
    ) -> Entry:
        """Copy the files into a staging dir and rename it to the next free version (or find a duplicate)."""
        self._ensure_layout()
        clean_stale_staging(self.root)
        with staging_dir(self.root) as stage:
            for path, record in zip(files, records):
                if copy_and_hash(path, stage / path.name) != record:
                    raise RegistryError(
                        f"{path} changed while it was being published; publish again once the "
                        "artifact is completely written"
                    )
            check_artifact(stage)  # the bytes that become the version, as the loader will see them
            fsync_dir(stage)
            make_dirs(namespace)
            with exclusive_lock(namespace / LOCK_FILE):
                numbers = version_numbers(namespace)
                index = DigestIndex(namespace)
                index.refresh(numbers)
                existing = index.find(draft.digest)
                if existing is not None:
                    return read_entry(namespace / format_version(existing))
                number = claim_version(stage, namespace, draft, max(numbers, default=0) + 1)
                index.add(draft.digest, number)
        return read_entry(namespace / format_version(number))

    def promote(
        self, task: str, method: str, version: str, alias: str, *, by: str | None = None
    ) -> AliasEvent:
        """Point `alias` at `version` (resolved now, so 'latest' pins today's latest).

        `by` defaults to `user@host`. A version whose files fail verification is refused.
        """
        alias = validate_alias(alias)
        namespace = self._namespace(task, method)
        target = self.get(task, method, version)
        problems = target.verify()
        if problems:
            raise IntegrityError(
                f"refusing to promote {target.ref}: " + "; ".join(map(str, problems))
            )
        self._refuse_links(namespace)
        with exclusive_lock(namespace / LOCK_FILE):
            return move_alias(
                namespace / ALIASES_FILE, alias, target.path.name, by or current_user()
            )

    # ----- internals -----------------------------------------------------------------------------

    def _namespace(self, task: str, method: str) -> Path:
        """The folder of `task`/`method`; refused when the task or method folder is a link."""
        namespace = self.root / validate_task(task) / validate_name("method", method)
        for path in (namespace.parent, namespace):
            if os.path.islink(path):
                raise link_error(path, self.root)
        return namespace

    def _refuse_links(self, namespace: Path) -> None:
        """Writes stay inside the root: no local-state dir may be a symlink (`_namespace` checks the rest)."""
        for path in (self.root / STAGING_DIR, self.root / CACHE_DIR):
            if os.path.islink(path):
                raise RegistryError(
                    f"{path} is a symbolic link; the registry writes only inside {self.root}, "
                    "replace it with a real directory"
                )

    def _children(self, path: Path, prefix: str, problems: builtins.list[Problem], only: str | None = None) -> builtins.list[str]:
        """Task or method folders under `path` (or just `only`); each link among them becomes a problem."""
        folders, links = named_subdirs(path)
        for name in links:
            if only in (None, name):
                problems.append(Problem(f"{prefix}{name}", "", "a directory", str(link_error(path / name, self.root))))
        return [name for name in folders if only in (None, name)]

    def _resolve(self, namespace: Path, version: str) -> str:
        ref = f"{namespace.parent.name}/{namespace.name}"
        if version == LATEST:
            latest = latest_version(namespace)
            if latest is None:
                raise EntryNotFoundError(f"no versions of {ref} in registry {self.root}")
            return format_version(latest)
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
        return alias_target(namespace, ref, version, aliases[version])

    def _check_layout(self) -> None:
        path = self.root / LAYOUT_FILE
        try:
            layout = json.loads(read_document(path, 1 << 16))
        except FileNotFoundError:
            return
        except (ValueError, RecursionError) as error:
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
        make_dirs(self.root / STAGING_DIR)
        layout = json.dumps({"layout_version": LAYOUT_VERSION}) + "\n"
        for name, content in ((LAYOUT_FILE, layout), (".gitignore", _GITIGNORE)):
            if not (self.root / name).exists():
                write_atomic(self.root / name, content.encode())


def _record(path: Path) -> FileRecord:
    sha, size = hash_file(path)
    return FileRecord(name=path.name, sha256=sha, size=size)
