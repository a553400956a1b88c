"""Multi-task bundles: every task's prefix over one frozen base model, served in mixed batches.

A bundle is a manifest (JSON, :class:`BundleManifest`) that pins its members: each task's artifact
directory (a path next to the manifest, or a version in the registry), the sha256 of each artifact
file, and the label names of classification tasks. :class:`MultiTaskModel` loads the base model
once, puts every member's prefix in one adapter bank, and runs a batch where each example names its
own task: the backbone runs once for the whole batch, each example with its task's prefix. A
classification task also brings its own trained head, with its own number of labels; each head
layer becomes a :class:`RoutedLinear` that holds every task's weights and sends each example
through its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Literal

import torch
from pydantic import Field, ValidationError, model_validator
from torch import nn
from transformers import PreTrainedModel

from prefixes.artifact import CONFIG_NAME, WEIGHTS_NAME, ArtifactConfig, read_artifact
from prefixes.config import ModelConfig, PrefixConfig, PromptConfig, StrictModel
from prefixes.model import AdaptedModel
from prefixes.prefix_model import PrefixTuningModel
from prefixes.prompt_model import PromptTuningModel

SCHEMA_VERSION = 1
ARTIFACT_FILES = (CONFIG_NAME, WEIGHTS_NAME)
CLASSIFICATION = "text_classification"
GENERATION = ("text_generation", "seq2seq_generation")

# Method -> family. Members of one family share a wrapper class: prefixes enter every attention
# layer, prompts enter the input, and one forward cannot do both.
_FAMILY = {"prefix": "prefix", "p_tuning_v2": "prefix", "prompt": "prompt"}
_WRAPPER = {"prefix": (PrefixTuningModel, PrefixConfig), "prompt": (PromptTuningModel, PromptConfig)}


class BundleError(ValueError):
    """A bundle that cannot be built or loaded as asked; the message says what to change."""


# ----- manifest --------------------------------------------------------------------------------
class BaseModelRef(StrictModel):
    """The frozen base model every member was trained on."""

    name_or_path: str = Field(description="What to load the base model from when none is given.")
    revision: str | None = Field(default=None, description="Hub revision the members were trained at.")
    fingerprint: str = Field(description="Digest of the frozen weights, as recorded in each prefix_config.json.")


class RegistryRef(StrictModel):
    """A member stored in the prefix registry rather than next to the manifest."""

    registry: str = Field(description="Registry root; in a manifest, relative to the manifest's folder.")
    task: str
    method: str
    version: str = Field(default="latest", description="'vN' or an alias; build_manifest pins it to 'vN'.")


class BundleMember(StrictModel):
    """One task of the bundle."""

    task: str = Field(min_length=1)
    method: str = Field(description="The method the task was trained with (e.g. 'prefix', 'prompt').")
    artifact: str | RegistryRef = Field(description="Artifact folder relative to the manifest's folder, or a registry version.")
    sha256: dict[str, str] = Field(description="Hex sha256 of each artifact file, checked before loading.")
    labels: list[str] | None = Field(default=None, description="Label names of a classification task; null otherwise.")
    template: str | None = Field(
        default=None, description="Generation: the training prompt template, with one {source} slot, applied to requests."
    )


class BundleManifest(StrictModel):
    """What a bundle holds; written by :func:`write_manifest`, read by :func:`read_manifest`."""

    schema_version: Literal[1] = SCHEMA_VERSION
    name: str = Field(min_length=1)
    base_model: BaseModelRef
    members: list[BundleMember] = Field(min_length=1)

    @model_validator(mode="after")
    def _tasks_are_unique(self) -> BundleManifest:
        tasks = [member.task for member in self.members]
        repeated = sorted({task for task in tasks if tasks.count(task) > 1})
        if repeated:
            raise ValueError(f"tasks {repeated} appear more than once: a bundle holds one artifact per task")
        return self

    @property
    def tasks(self) -> list[str]:
        return [member.task for member in self.members]


def write_manifest(path: str | os.PathLike, manifest: BundleManifest) -> Path:
    """Write the manifest as JSON; the file is replaced atomically (readers never see half of it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w") as file:
        file.write(manifest.model_dump_json(indent=2) + "\n")
    os.replace(staging, path)
    return path


def read_manifest(path: str | os.PathLike) -> BundleManifest:
    """Read and validate a manifest; every problem is reported with the file's name."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"no bundle manifest at {path}: build one with the multi-task-bundle stage")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise BundleError(f"{path} is not valid JSON ({error})") from None
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise BundleError(f"{path} has schema_version {version}, newer than {SCHEMA_VERSION}: upgrade prefixes to read it")
    try:
        return BundleManifest.model_validate(raw)
    except ValidationError as error:
        raise BundleError(f"{path} is not a valid bundle manifest:\n{error}") from None


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
        configs.append(read_artifact(directory)[0])
    _check_members(pinned, configs)
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


def _resolve(member: BundleMember, manifest_dir: Path) -> Path:
    """The folder a manifest member names."""
    if isinstance(member.artifact, RegistryRef):
        return _registry_entry(manifest_dir / member.artifact.registry, member.artifact).path
    return manifest_dir / member.artifact


def _registry_entry(root: Path, ref: RegistryRef):
    from prefixes.registry import Registry, RegistryError  # only registry members need the registry

    try:
        return Registry(root).get(ref.task, ref.method, ref.version)
    except RegistryError as error:
        raise BundleError(f"registry member {ref.task}/{ref.method} {ref.version}: {error}") from None


def _digests(directory: Path) -> dict[str, str]:
    digests = {}
    for name in ARTIFACT_FILES:
        if not (directory / name).is_file():
            raise BundleError(f"{directory} is not a prefixes artifact: {name} is missing (written by save_pretrained)")
        digest = hashlib.sha256()
        with open(directory / name, "rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
        digests[name] = digest.hexdigest()
    return digests


def _verify(member: BundleMember, directory: Path) -> None:
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


def _check_members(members: list[BundleMember], configs: list[ArtifactConfig]) -> None:
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
    families = _grouped(tasks, [_FAMILY[config.method] for config in configs])
    if len(families) > 1:
        raise BundleError(
            f"a bundle's members must all be prefixes (prefix, p_tuning_v2) or all prompts: got {families}. "
            "Prefixes enter every attention layer and prompts the input, so one batch cannot mix them: bundle them separately"
        )
    kinds = _grouped(tasks, [config.task_type for config in configs])
    unsupported = sorted(set(kinds) - {CLASSIFICATION, *GENERATION})
    if unsupported:
        raise BundleError(f"bundles serve {CLASSIFICATION} and {list(GENERATION)} tasks; got {kinds}")
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
    if config.task_type != CLASSIFICATION:
        raise BundleError(f"task {member.task!r} is a {config.task_type} task: give label names only for classification tasks")
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


# ----- per-example heads -----------------------------------------------------------------------
class RoutedLinear(nn.Module):
    """One head layer with every task's weights; each example goes through its own task's.

    weight: (tasks, out_max, in), bias: (tasks, out_max); a task with fewer outputs (labels) is
    zero-padded, and its extra outputs are sliced off by the caller. ``task_index`` (B,) is set by
    :meth:`MultiTaskModel.routed` for one forward only.
    """

    def __init__(self, weights: list[torch.Tensor], biases: list[torch.Tensor] | None):
        super().__init__()
        out_max = max(weight.shape[0] for weight in weights)
        self.register_buffer("weight", torch.stack([nn.functional.pad(w, (0, 0, 0, out_max - w.shape[0])) for w in weights]))
        bias = None if biases is None else torch.stack([nn.functional.pad(b, (0, out_max - b.shape[0])) for b in biases])
        self.register_buffer("bias", bias)
        self.task_index: torch.Tensor | None = None

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.task_index is None or self.task_index.shape[0] != hidden.shape[0]:
            raise RuntimeError("a RoutedLinear runs inside MultiTaskModel.routed(task_ids), with one task id per example")
        flat = hidden.reshape(hidden.shape[0], -1, hidden.shape[-1])  # (B, N, in)
        out = flat @ self.weight[self.task_index].transpose(1, 2)  # (B, N, out_max)
        if self.bias is not None:
            out = out + self.bias[self.task_index][:, None]
        return out.reshape(*hidden.shape[:-1], out.shape[-1])


def _route_heads(base_model: PreTrainedModel, head: list[str], tensors: list[dict[str, torch.Tensor]]) -> list[RoutedLinear]:
    """Replace each head layer of ``base_model`` by a RoutedLinear holding every member's weights."""
    routed = []
    for layer in sorted({name.rpartition(".")[0] for name in head}):
        module = base_model.get_submodule(layer)
        if not isinstance(module, nn.Linear):
            raise BundleError(f"head layer {layer!r} is a {type(module).__name__}: per-task heads need Linear layers")
        weights = [t[f"head.{layer}.weight"] for t in tensors]
        if any(weight.shape[1] != module.in_features for weight in weights):
            raise BundleError(f"a member's {layer}.weight does not take the base model's {module.in_features} inputs")
        biases = None if module.bias is None else [t[f"head.{layer}.bias"] for t in tensors]
        replacement = RoutedLinear(weights, biases).to(module.weight.device, module.weight.dtype)
        parent, _, child = layer.rpartition(".")
        setattr(base_model.get_submodule(parent), child, replacement)
        routed.append(replacement)
    return routed


# ----- the model -------------------------------------------------------------------------------
class PredictRequest(StrictModel):
    """One request to :meth:`MultiTaskModel.predict`."""

    task: str
    text: str


class MultiTaskModel(nn.Module):
    """One frozen base model, every member's prefix (and head), one forward for a mixed-task batch."""

    def __init__(self, model: AdaptedModel, tasks: list[str], labels: dict[str, list[str] | None],
                 num_labels: dict[str, int], heads: list[RoutedLinear], templates: dict[str, str | None] | None = None):
        """Use the ``from_*`` constructors; ``model`` holds one adapter per task, in ``tasks`` order."""
        super().__init__()
        self.model = model.eval()
        self.tasks = tasks
        self.labels = labels
        self.templates = templates or {}
        self.num_labels = num_labels
        self._heads = heads

    # ----- construction -------------------------------------------------------------------------
    @classmethod
    def from_bundle(cls, manifest_path: str | os.PathLike, base_model: PreTrainedModel | None = None, *,
                    tokenizer=None) -> MultiTaskModel:
        """Load a bundle; the base model is loaded from the manifest when not given."""
        manifest_path = Path(manifest_path)
        return cls._from_manifest(read_manifest(manifest_path), manifest_path.parent.resolve(), base_model, tokenizer)

    @classmethod
    def from_artifacts(cls, artifacts: Mapping[str, str | os.PathLike], base_model: PreTrainedModel | None = None, *,
                       tokenizer=None, labels: Mapping[str, list[str]] | None = None) -> MultiTaskModel:
        """Bundle artifact folders ``{task: folder}`` on the fly (label names optional, per task)."""
        labels = labels or {}
        members = [(task, read_artifact(path)[0].method, path, labels.get(task)) for task, path in artifacts.items()]
        return cls._from_manifest(build_manifest("artifacts", members, Path.cwd()), Path.cwd(), base_model, tokenizer)

    @classmethod
    def from_registry(cls, registry_root: str | os.PathLike, tasks: Mapping[str, tuple[str, str]],
                      base_model: PreTrainedModel | None = None, *, tokenizer=None,
                      labels: Mapping[str, list[str]] | None = None) -> MultiTaskModel:
        """Bundle registry versions ``{task: (method, version)}``; their stored hashes are verified first."""
        labels = labels or {}
        root = str(Path(registry_root).resolve())
        members = [
            (task, method, RegistryRef(registry=root, task=task, method=method, version=version), labels.get(task))
            for task, (method, version) in tasks.items()
        ]
        return cls._from_manifest(build_manifest("registry", members, Path.cwd()), Path.cwd(), base_model, tokenizer)

    @classmethod
    def _from_manifest(cls, manifest: BundleManifest, manifest_dir: Path, base_model, tokenizer) -> MultiTaskModel:
        directories = [_resolve(member, manifest_dir) for member in manifest.members]
        for member, directory in zip(manifest.members, directories):
            _verify(member, directory)
        artifacts = [read_artifact(directory) for directory in directories]
        configs = [config for config, _ in artifacts]
        _check_members(manifest.members, configs)
        num_labels = {
            member.task: config.base_model.num_labels
            for member, config in zip(manifest.members, configs)
            if config.task_type == CLASSIFICATION
        }
        model = _wrapper(manifest.base_model, configs[0], max(num_labels.values(), default=None), base_model, tokenizer)
        for index, directory in enumerate(directories):
            # Adapters are named by position: task_ids index the bank, and task names may hold
            # characters (such as '.') that a module name cannot.
            model.load_adapter(directory, str(index))
        heads = _route_heads(model.base_model, configs[0].head, [tensors for _, tensors in artifacts]) if num_labels else []
        labels = {member.task: member.labels for member in manifest.members}
        templates = {member.task: member.template for member in manifest.members}
        return cls(model, manifest.tasks, labels, num_labels, heads, templates)

    # ----- running --------------------------------------------------------------------------------
    @property
    def task_type(self) -> str:
        return self.model.task_type

    def task_ids(self, tasks: Sequence[str]) -> torch.Tensor:
        """(B,) index of each example's task; an unknown task is an error that lists the known ones."""
        unknown = sorted(set(tasks) - set(self.tasks))
        if unknown:
            raise BundleError(f"unknown tasks {unknown}: this bundle serves {self.tasks}")
        return torch.tensor([self.tasks.index(task) for task in tasks], dtype=torch.long, device=self._device())

    def _device(self) -> torch.device:
        return next(self.model.base_model.parameters()).device

    @contextlib.contextmanager
    def routed(self, task_ids: torch.Tensor) -> Iterator[None]:
        """While inside, the head layers send each example through its own task's weights."""
        for head in self._heads:
            head.task_index = task_ids
        try:
            yield
        finally:
            for head in self._heads:
                head.task_index = None

    def forward(self, tasks: Sequence[str], **batch):
        """Run a batch, example i with task ``tasks[i]``; classification logits are (B, widest task's labels)."""
        task_ids = self.task_ids(tasks)
        with self.routed(task_ids):
            return self.model(task_ids=task_ids, **batch)

    @torch.no_grad()
    def classify(self, tasks: Sequence[str], **batch) -> list[torch.Tensor]:
        """Each example's logits over its own task's labels: (num_labels of tasks[i],)."""
        logits = self(tasks, **batch).logits
        return [row[: self.num_labels[task]] for row, task in zip(logits, tasks)]

    @torch.no_grad()
    def generate(self, tasks: Sequence[str], **kwargs) -> torch.Tensor:
        """transformers generation, example i with task ``tasks[i]``'s prefix."""
        return self.model.generate(task_ids=self.task_ids(tasks), **kwargs)

    def predict(self, requests: Sequence[Mapping | PredictRequest], *, max_new_tokens: int = 32,
                batch_size: int = 32) -> list[dict]:
        """Answer ``{"task", "text"}`` requests, in order, ``batch_size`` mixed-task requests per forward.

        Each answer is ``{"task", "text", "prediction"}``: the generated text, or for classification
        the label name (``LABEL_<i>`` when the bundle has no names) plus ``"label"``, its index.
        """
        if self.model.tokenizer is None:
            raise BundleError("predict needs the base model's tokenizer: pass tokenizer=... along with base_model")
        parsed = [PredictRequest.model_validate(request) for request in requests]
        self.task_ids([request.task for request in parsed])  # every task is checked before any work
        answers = []
        for start in range(0, len(parsed), batch_size):
            chunk = parsed[start : start + batch_size]
            tasks, texts = [r.task for r in chunk], [r.text for r in chunk]
            if self.task_type == CLASSIFICATION:
                outputs = self._predict_labels(tasks, texts)
            else:
                outputs = self._predict_texts(tasks, texts, max_new_tokens, first_index=start)
            answers += [{"task": task, "text": text, **output} for task, text, output in zip(tasks, texts, outputs)]
        return answers

    def _predict_labels(self, tasks: list[str], texts: list[str]) -> list[dict]:
        # Truncated on the right, as the classification data format does in training.
        encoded = self.model.tokenizer(texts, padding=True, truncation=True, max_length=self._input_room(0),
                                       return_tensors="pt").to(self._device())
        answers = []
        for task, logits in zip(tasks, self.classify(tasks, **encoded)):
            index = int(logits.argmax())
            names = self.labels[task]
            answers.append({"prediction": names[index] if names else f"LABEL_{index}", "label": index})
        return answers

    def _predict_texts(self, tasks: list[str], texts: list[str], max_new_tokens: int, first_index: int) -> list[dict]:
        tokenizer = self.model.tokenizer
        decoder_only = not self.model.base_model.config.is_encoder_decoder
        # Requests see the prompt the task was trained with.
        texts = [self.templates[task].replace("{source}", text) if self.templates.get(task) else text
                 for task, text in zip(tasks, texts)]
        encoded = tokenizer(texts, padding=True, padding_side="left", return_token_type_ids=False, return_tensors="pt")
        room = self._input_room(max_new_tokens if decoder_only else 0)
        lengths = encoded["attention_mask"].sum(dim=1).tolist()
        for offset, length in enumerate(lengths):
            if length > room:
                raise BundleError(
                    f"request {first_index + offset} takes {length} tokens; with the longest prefix and "
                    f"max_new_tokens={max_new_tokens} only {room} fit: shorten the text or lower max_new_tokens"
                )
        encoded = encoded.to(self._device())
        output = self.generate(tasks, **encoded, max_new_tokens=max_new_tokens, do_sample=False,
                               pad_token_id=tokenizer.pad_token_id)
        # Decoder-only models return prompt + new tokens; only the new ones are the answer.
        new_tokens = output[:, encoded["input_ids"].shape[1] :] if decoder_only else output
        return [{"prediction": text.strip()} for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]

    def _input_room(self, reserved: int) -> int:
        """Real tokens that fit beside the longest virtual prefix and ``reserved`` new tokens."""
        # Virtual tokens take position slots: real tokens are positioned after them.
        limit = self.model.tokenizer.model_max_length  # a huge sentinel when the tokenizer sets no limit
        positions = getattr(self.model.base_model.config.get_text_config(), "max_position_embeddings", None)
        longest = max(adapter.length for adapter in self.model.adapters.values())
        return min(limit, positions or limit) - longest - reserved


def _wrapper(base: BaseModelRef, first: ArtifactConfig, num_labels: int | None,
             base_model: PreTrainedModel | None, tokenizer) -> AdaptedModel:
    """An empty adapter bank over the base model (loaded with the widest task's labels if not given)."""
    wrapper_class, config_class = _WRAPPER[_FAMILY[first.method]]
    method_config = config_class.model_validate(first.method_config)
    if base_model is None:
        model_config = ModelConfig(model_name_or_path=base.name_or_path, task_type=first.task_type,
                                   num_labels=num_labels, revision=base.revision)
        return wrapper_class.from_config(model_config, method_config, create_adapter=False)
    return wrapper_class.from_model(base_model, method_config, task_type=first.task_type, tokenizer=tokenizer,
                                    model_name_or_path=base.name_or_path, revision=base.revision,
                                    fresh_parameters=first.head, create_adapter=False)
