"""Checking a folded artifact directory before publishing it, and hashing its files.

An artifact is what the model's `save_pretrained(dir)` writes: `prefix_config.json` and
`prefix.safetensors`; its config is read with the one artifact schema, `prefixes.artifact.schema`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from prefixes.artifact.schema import ARTIFACT_FILES, ArtifactConfig, read_artifact_config
from prefixes.registry.errors import ArtifactError
from prefixes.registry.metadata import FileRecord

METADATA_FILE = "metadata.json"

_CHUNK = 1 << 20


def publishable_files(artifact_dir: Path) -> tuple[ArtifactConfig, list[Path]]:
    """Validate `artifact_dir` and return its config and the files to publish (sorted by name).

    Every top-level regular file is published; symlinks and subdirectories are refused because a
    version must be self-contained and its hashes must describe exactly what is stored.
    """
    if not artifact_dir.is_dir():
        raise ArtifactError(f"artifact directory {artifact_dir} does not exist or is not a dir")
    files: list[Path] = []
    for entry in sorted(os.scandir(artifact_dir), key=lambda e: e.name):
        if entry.is_symlink() or not entry.is_file():
            raise ArtifactError(
                f"{entry.path} is not a regular file; an artifact directory may only hold files"
            )
        if entry.name == METADATA_FILE:
            raise ArtifactError(
                f"{entry.path}: '{METADATA_FILE}' is written by the registry, remove it from the "
                "artifact directory"
            )
        files.append(Path(entry.path))
    missing = [name for name in ARTIFACT_FILES if not (artifact_dir / name).is_file()]
    if missing:
        raise ArtifactError(
            f"{artifact_dir} is not a prefix artifact: missing {', '.join(missing)} "
            "(write it with the model's save_pretrained)"
        )
    try:
        config = read_artifact_config(artifact_dir)
    except ValueError as error:
        raise ArtifactError(str(error)) from None
    if config.form != "folded":
        raise ArtifactError(
            f"{artifact_dir} holds form {config.form!r}, but the registry stores only folded "
            "inference prefixes; export it with `model.save_pretrained(dir)` (the folded "
            "default, not `training_state=True`) and publish that directory"
        )
    return config, files


def copy_and_hash(source: Path, destination: Path) -> FileRecord:
    """Copy `source` to a new `destination`, fsync it, and record the hash of the bytes written."""
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as src, open(destination, "xb") as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return FileRecord(name=destination.name, sha256=digest.hexdigest(), size=size)


def content_digest(files: Iterable[FileRecord]) -> str:
    """sha256 over the sorted (name, sha256) pairs: equal content gives an equal digest.

    Timestamps and provenance are deliberately left out, so republishing the same artifact is
    recognised as a duplicate.
    """
    digest = hashlib.sha256()
    for name, sha in sorted((record.name, record.sha256) for record in files):
        digest.update(f"{name}\0{sha}\n".encode())
    return digest.hexdigest()
