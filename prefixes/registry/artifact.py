"""Checking a folded artifact directory before publishing it, and hashing its files.

An artifact is what the model's `save_pretrained(dir)` writes: `prefix_config.json` and
`prefix.safetensors`. Publishing opens it the way the loader will (the one artifact schema,
the method's config, the safetensors header, tensor names and shapes; see `artifact_checks`),
so what is stored can be loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from prefixes.artifact.schema import ARTIFACT_FILES, CONFIG_NAME, WEIGHTS_NAME, ArtifactConfig
from prefixes.io import sha256_stream
from prefixes.registry.artifact_checks import check_finite, check_tensors, parse_config
from prefixes.registry.errors import ArtifactError
from prefixes.registry.metadata import FileRecord
from prefixes.registry.names import METADATA_FILE, file_name_problem
from prefixes.registry.reading import open_regular
from prefixes.registry.safetensors_header import non_finite_counts, read_header

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
        problem = file_name_problem(entry.name)
        if problem is not None:
            raise ArtifactError(f"{entry.path!r} cannot be published: {problem}; rename it")
        if entry.name.startswith("."):
            # `.lock`, `.tmp-*` and `.staging` are the registry's own ignored names, and a `.gitignore`
            # would hide the version's other files: after a clone the version would be incomplete.
            raise ArtifactError(
                f"{entry.path!r} cannot be published: hidden names (starting with '.') are kept out of "
                "git by the registry's ignore rules, so the version would be incomplete after a clone; "
                "remove it or give it a plain name"
            )
        files.append(Path(entry.path))
    return check_artifact(artifact_dir), files


def check_artifact(directory: Path) -> ArtifactConfig:
    """What the loader needs of the artifact in `directory`: config, header, tensors, finite values.

    Run on the artifact before anything is written and again on the staged copy before it becomes
    a version, so what becomes visible is exactly what was checked.
    """
    missing = [name for name in ARTIFACT_FILES if not (directory / name).is_file()]
    if missing:
        raise ArtifactError(
            f"{directory} is not a prefix artifact: missing {', '.join(missing)} "
            "(write it with the model's save_pretrained)"
        )
    config, method_config = _read_config(directory / CONFIG_NAME)
    if config.form != "folded":
        raise ArtifactError(
            f"{directory} holds form {config.form!r}, but the registry stores only folded "
            "inference prefixes; export it with `model.save_pretrained(dir)` (the folded "
            "default, not `training_state=True`) and publish that directory"
        )
    weights = directory / WEIGHTS_NAME
    tensors = read_header(weights)
    check_tensors(config, method_config, tensors, str(weights))
    check_finite(non_finite_counts(weights, tensors), str(weights))
    return config


def _read_config(path: Path):
    try:
        data = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as error:
        raise ArtifactError(f"{path} is not a valid prefix config: invalid JSON: {error}") from None
    return parse_config(data, str(path))


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


def hash_file(path: Path) -> tuple[str, int]:
    """Return (hex sha256, size in bytes) of the regular file at `path` (symlinks are refused)."""
    with open_regular(path) as handle:
        return sha256_stream(handle)


def content_digest(files: Iterable[FileRecord]) -> str:
    """sha256 over the sorted (name, sha256) pairs: equal content gives an equal digest.

    Timestamps and provenance are deliberately left out, so republishing the same artifact is
    recognised as a duplicate.
    """
    digest = hashlib.sha256()
    for name, sha in sorted((record.name, record.sha256) for record in files):
        digest.update(f"{name}\0{sha}\n".encode())
    return digest.hexdigest()
