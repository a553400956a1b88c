"""MultiTaskModel: every member's prefix (and head) over one frozen base model, one forward per mixed batch.

The base model is loaded once and every member's adapter goes into one bank; each example of a
batch names its own task, the backbone runs once for the whole batch, each example with its task's
prefix. A classification task also brings its own trained head, routed per example
(``prefixes.bundle.heads``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import torch
from torch import nn
from transformers import PreTrainedModel

from prefixes.artifact.schema import ArtifactConfig, read_artifact_config
from prefixes.artifact.weights import read_artifact
from prefixes.bundle.heads import RoutedLinear, route_heads
from prefixes.bundle.manifest import BaseModelRef, BundleError, BundleManifest, RegistryRef, read_manifest
from prefixes.bundle.members import CLASSIFICATION, MULTIPLE_CHOICE, build_manifest, check_members, resolve, verify
from prefixes.bundle.serving import PredictRequest, predict
from prefixes.config import ModelConfig, TaskType
from prefixes.methods.registry import get_method
from prefixes.model import AdaptedModel


class _Generator(Protocol):
    """A wrapper that generates with a per-example adapter (prefix and prompt tuning)."""

    def generate(self, task_ids: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor: ...


class MultiTaskModel(nn.Module):
    """One frozen base model, every member's prefix (and head), one forward for a mixed-task batch."""

    def __init__(self, model: AdaptedModel, tasks: list[str], labels: dict[str, list[str] | None],
                 num_labels: dict[str, int], heads: list[RoutedLinear], templates: dict[str, str | None] | None = None):
        """Use the ``from_*`` constructors; ``model`` holds one adapter per task, in ``tasks`` order."""
        super().__init__()
        self.model = model
        self.tasks = tasks
        self.labels = labels
        self.templates = templates or {}
        self.num_labels = num_labels
        self._heads = heads
        self.eval()  # serving: the whole bundle, its routed heads included, is for using

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
        members = [(task, read_artifact_config(path).method, path, labels.get(task)) for task, path in artifacts.items()]
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
        directories = [resolve(member, manifest_dir) for member in manifest.members]
        for member, directory in zip(manifest.members, directories):
            verify(member, directory)
        artifacts = [read_artifact(directory) for directory in directories]
        configs = [config for config, _ in artifacts]
        check_members(manifest.members, configs)
        num_labels: dict[str, int] = {  # recorded for every classification artifact
            member.task: cast(int, config.base_model.num_labels)
            for member, config in zip(manifest.members, configs)
            if config.task_type == CLASSIFICATION
        }
        model = _wrapper(manifest.base_model, configs[0], max(num_labels.values(), default=None), base_model, tokenizer)
        for index, directory in enumerate(directories):
            # Adapters are named by position: task_ids index the bank, and task names may hold
            # characters (such as '.') that a module name cannot.
            model.load_adapter(directory, str(index))
        # Generation members train no head (check_members); every other kind routes its own.
        heads = route_heads(model.base_model, configs[0].head, [tensors for _, tensors in artifacts])
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
        return torch.tensor([self.tasks.index(task) for task in tasks], dtype=torch.long, device=self.device())

    def device(self) -> torch.device:
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
        """Run a batch, example i with task ``tasks[i]``; classification logits are (B, widest task's
        labels), multiple-choice logits (B, choices) from (B, choices, T) inputs."""
        task_ids = self.task_ids(tasks)
        # A multiple-choice head scores the flattened (B * choices) rows, each with its example's weights.
        rows = task_ids.repeat_interleave(batch["input_ids"].shape[1]) if self.task_type == MULTIPLE_CHOICE else task_ids
        with self.routed(rows):
            return self.model(task_ids=task_ids, **batch)

    @torch.no_grad()
    def classify(self, tasks: Sequence[str], **batch) -> list[torch.Tensor]:
        """Each example's logits over its own task's labels: (num_labels of tasks[i],)."""
        logits = self(tasks, **batch).logits
        return [row[: self.num_labels[task]] for row, task in zip(logits, tasks)]

    @torch.no_grad()
    def generate(self, tasks: Sequence[str], **kwargs) -> torch.Tensor:
        """transformers generation, example i with task ``tasks[i]``'s prefix."""
        return cast(_Generator, self.model).generate(task_ids=self.task_ids(tasks), **kwargs)

    def predict(self, requests: Sequence[Mapping | PredictRequest], *, max_new_tokens: int = 32,
                batch_size: int = 32) -> list[dict]:
        """Answer ``{"task", "text"}`` requests, in order, ``batch_size`` mixed-task requests per forward.

        Pair classification and extractive QA requests also give ``"text_pair"`` (the hypothesis; the
        context), multiple-choice requests ``"choices"`` (the candidate answers to the question in
        ``"text"``). Each answer is the request plus ``"prediction"``: the generated text, the span of
        the context, the chosen choice's text plus ``"label"``, its index, or for classification the
        label name (``LABEL_<i>`` when the bundle has no names) plus ``"label"``, its index. Requests are
        encoded as the task's data format encodes training and evaluation examples.
        """
        return predict(self, requests, max_new_tokens=max_new_tokens, batch_size=batch_size)


def _wrapper(base: BaseModelRef, first: ArtifactConfig, num_labels: int | None,
             base_model: PreTrainedModel | None, tokenizer) -> AdaptedModel:
    """An empty adapter bank over the base model (loaded with the widest task's labels if not given)."""
    spec = get_method(first.method)
    wrapper_class = spec.wrapper_class()
    method_config = spec.config_class.model_validate(first.method_config)
    if base_model is None:
        model_config = ModelConfig(model_name_or_path=base.name_or_path, task_type=cast(TaskType, first.task_type),
                                   num_labels=num_labels, revision=base.revision)
        return wrapper_class.from_config(model_config, method_config, create_adapter=False)
    return wrapper_class.from_model(base_model, method_config, task_type=first.task_type, tokenizer=tokenizer,
                                    model_name_or_path=base.name_or_path, revision=base.revision,
                                    fresh_parameters=first.head, create_adapter=False)
