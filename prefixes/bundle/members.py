"""Building a bundle's member list: pin artifacts, verify their hashes, check they fit together.

Members must share one base model, one kind of method (prefixes or prompts: one forward cannot
do both) and one kind of task; each file's sha256 is recorded and checked again on load.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from prefixes.artifact.schema import ARTIFACT_FILES, ArtifactConfig, read_artifact_config
from prefixes.bundle.manifest import BaseModelRef, BundleError, BundleManifest, BundleMember, RegistryRef
from prefixes.io import sha256_file
from prefixes.methods.registry import get_method, method_names
from prefixes.registry import Entry, Registry, RegistryError

CLASSIFICATION = "text_classification"
GENERATION = ("text_generation", "seq2seq_generation")
QUESTION_ANSWERING = "question_answering"
MULTIPLE_CHOICE = "multiple_choice"
SERVED_TASK_TYPES = (CLASSIFICATION, QUESTION_ANSWERING, MULTIPLE_CHOICE, *GENERATION)
"""What a bundle serves: a routed linear head (classification, extractive QA's span head, the
multiple-choice head that scores each choice) or the base model's own LM head."""


def build_manifest(
    name: str,
    members: Sequence[tuple[str, str, str | os.PathLike | RegistryRef, list[str] | None]],
    manifest_dir: str | os.PathLike,
) -> BundleManifest:
    """Pin ``(task, method, artifact, label_names)`` members into a manifest to be saved in ``manifest_dir``.

    ``artifact`` is an artifact folder or a :class:`RegistryRef` (its stored files are verified and
    its version pinned); paths are given as usual (absolute, or relative to the working directory)
    and recorded relative to ``manifest_dir``. Members must share
    one base model, one method family and one kind of task.
    """
    manifest_dir = Path(manifest_dir).resolve()
    pinned, configs = [], []
    for task, method, artifact, labels in members:
        directory, artifact = _locate(artifact, manifest_dir)
        pinned.append(BundleMember(task=task, method=method, artifact=artifact, sha256=_digests(directory), labels=labels))
        configs.append(read_artifact_config(directory))
    check_members(pinned, configs)
    identity = configs[0].base_model
    base = BaseModelRef(name_or_path=identity.name_or_path, revision=identity.revision, fingerprint=identity.fingerprint)
    return BundleManifest(name=name, base_model=base, members=pinned)


def _locate(artifact, manifest_dir: Path) -> tuple[Path, str | RegistryRef]:
    """The artifact's folder, and how the manifest names it (relative path, or pinned registry version)."""
    if isinstance(artifact, RegistryRef):
        root = Path(artifact.registry).resolve()
        entry = _registry_entry(root, artifact)
        problems = entry.verify()
        if problems:
            raise BundleError(f"{entry.ref} no longer matches the hashes recorded when it was published: {problems}")
        return entry.path, artifact.model_copy(update={"registry": _relative(root, manifest_dir), "version": entry.path.name})
    directory = Path(artifact).resolve()
    return directory, _relative(directory, manifest_dir)


def _relative(path: Path, manifest_dir: Path) -> str:
    # Relative paths keep a bundle valid when the repository moves or is cloned elsewhere.
    return Path(os.path.relpath(path, manifest_dir)).as_posix()


def resolve(member: BundleMember, manifest_dir: Path) -> Path:
    """The folder a manifest member names."""
    if isinstance(member.artifact, RegistryRef):
        return _registry_entry(manifest_dir / member.artifact.registry, member.artifact).path
    return manifest_dir / member.artifact


def _registry_entry(root: Path, ref: RegistryRef) -> Entry:
    try:
        return Registry(root).get(ref.task, ref.method, ref.version)
    except RegistryError as error:
        raise BundleError(f"registry member {ref.task}/{ref.method} {ref.version}: {error}") from None


def _digests(directory: Path) -> dict[str, str]:
    digests = {}
    for name in ARTIFACT_FILES:
        if not (directory / name).is_file():
            raise BundleError(f"{directory} is not a prefixes artifact: {name} is missing (written by save_pretrained)")
        digests[name] = sha256_file(directory / name)[0]
    return digests


def verify(member: BundleMember, directory: Path) -> None:
    actual = _digests(directory)
    changed = [name for name in ARTIFACT_FILES if actual[name] != member.sha256.get(name)]
    if changed:
        details = "; ".join(
            f"{name} has sha256 {actual[name]}, the manifest records {member.sha256.get(name)}" for name in changed
        )
        raise BundleError(
            f"refusing to load task {member.task!r} from {directory}: {details}. The artifact changed after the "
            "bundle was built: restore it, or rebuild the bundle if the change is intended"
        )


def check_members(members: list[BundleMember], configs: list[ArtifactConfig]) -> None:
    """Members must share base weights, method family, task kind and head layers; say which differ."""
    tasks = [member.task for member in members]
    first_task, first = tasks[0], configs[0]
    for task, config in zip(tasks[1:], configs[1:]):
        if config.base_model.fingerprint != first.base_model.fingerprint:
            raise BundleError(
                f"tasks {first_task!r} and {task!r} were trained on different base models: {first_task!r} on "
                f"{first.base_model.name_or_path} (fingerprint {first.base_model.fingerprint}), {task!r} on "
                f"{config.base_model.name_or_path} (fingerprint {config.base_model.fingerprint}). A bundle shares "
                "one frozen base model: bundle them separately"
            )
    families = _grouped(tasks, [get_method(config.method).kind for config in configs])
    if len(families) > 1:
        raise BundleError(
            f"a bundle's members must all be prefixes ({', '.join(method_names('prefix'))}) or all prompts "
            f"({', '.join(method_names('prompt'))}): got {families}. Prefixes enter every attention layer and "
            "prompts the input, so one batch cannot mix them: bundle them separately"
        )
    kinds = _grouped(tasks, [config.task_type for config in configs])
    unsupported = sorted(set(kinds) - set(SERVED_TASK_TYPES))
    if unsupported:
        raise BundleError(f"bundles serve {list(SERVED_TASK_TYPES)} tasks; got {kinds}")
    if len(kinds) > 1:
        raise BundleError(
            f"tasks of different kinds cannot share one base model, whose head class differs between them: {kinds}. "
            "Bundle each kind separately"
        )
    heads = _grouped(tasks, [tuple(config.head) for config in configs])
    if len(heads) > 1:
        raise BundleError(f"members train different head parameters {heads}: they need the same head layers")
    if first.task_type in GENERATION and first.head:
        raise BundleError(
            f"generation tasks {tasks} carry trained head parameters {first.head}: a bundle shares the base model's head"
        )
    for member, config in zip(members, configs):
        _check_labels(member, config)


def _check_labels(member: BundleMember, config: ArtifactConfig) -> None:
    if member.labels is None:
        return
    if config.task_type == MULTIPLE_CHOICE:  # they name the choices' positions (A, B, ...): any count is served
        if len(member.labels) < 2 or len(set(member.labels)) != len(member.labels):
            raise BundleError(f"task {member.task!r} names its choices {member.labels}: give two or more distinct names")
        return
    if config.task_type != CLASSIFICATION:
        raise BundleError(f"task {member.task!r} is a {config.task_type} task: give label names only for "
                          "classification and multiple-choice tasks")
    expected = config.base_model.num_labels
    if len(member.labels) != expected or len(set(member.labels)) != len(member.labels):
        raise BundleError(
            f"task {member.task!r} has {expected} classes; got label names {member.labels}: give {expected} distinct names"
        )


def _grouped(tasks: list[str], keys: list) -> dict:
    groups: dict = {}
    for task, key in zip(tasks, keys):
        groups.setdefault(key, []).append(task)
    return groups
