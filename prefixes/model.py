"""The shared wrapper: a frozen transformers model plus a bank of per-task adapters.

``AdaptedModel`` freezes the base model, trains the task head, keeps one adapter per task (a batch
may pick one per example) and saves/loads artifacts. Everything that depends on what an adapter
is goes through the ``AdapterMethod`` it holds (``prefixes.methods.interface``); a method's wrapper
only adds how the adapters enter the forward pass.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, cast

import torch
from pydantic import BaseModel
from torch import nn
from transformers import PreTrainedModel

from prefixes.artifact.card import model_card
from prefixes.artifact.schema import ArtifactConfig, BaseModelIdentity, read_artifact_config
from prefixes.artifact.weights import read_artifact, weights_fingerprint, write_artifact
from prefixes.base_models import head_restored_after_loading, load_base_model, load_tokenizer
from prefixes.config import HEAD_TASK_TYPES, ModelConfig, TaskType
from prefixes.methods.interface import Adapter, AdapterMethod
from prefixes.methods.registry import get_method, method_of_config
from prefixes.peft_export import export_peft
from prefixes.peft_import import import_peft
from prefixes.task_heads import head_parameter_names, infer_task_type
from prefixes.versions import library_versions

DEFAULT_ADAPTER = "default"


class AdaptedModel(nn.Module):
    """A frozen transformers model plus a bank of per-task adapters of one method."""

    method_class: ClassVar[type[AdapterMethod[Any, Any]]]

    def __init__(
        self,
        model: ModelConfig | PreTrainedModel,
        method_config: BaseModel,
        *,
        task_type: TaskType | None = None,
        tokenizer=None,
        model_name_or_path: str | None = None,
        revision: str | None = None,
        fresh_parameters: list[str] | tuple[()] = (),
        create_adapter: bool = True,
    ):
        """Wrap ``model``: a ``ModelConfig`` (the base model is loaded) or a built transformers model."""
        super().__init__()
        config_class = self.method_class.config_class
        if not isinstance(method_config, config_class):
            raise TypeError(f"{type(self).__name__} takes a {config_class.__name__}, got {type(method_config).__name__}")
        if isinstance(model, ModelConfig):
            base_model, fresh_parameters = load_base_model(model)
            tokenizer = tokenizer or load_tokenizer(model.model_name_or_path, model.revision)
            task_type, model_name_or_path, revision = model.task_type, model.model_name_or_path, model.revision
        else:
            base_model = model
        self.base_model = base_model
        self.method_config = method_config
        self.task_type = task_type or infer_task_type(base_model)
        self.tokenizer = tokenizer
        self.model_name_or_path = model_name_or_path or base_model.config.name_or_path
        self.revision = revision
        self.head_names = head_parameter_names(base_model, self.task_type, list(fresh_parameters))
        for name, param in base_model.named_parameters():
            param.requires_grad_(name in self.head_names)
        self.adapters = nn.ModuleDict()
        self.active_adapter = DEFAULT_ADAPTER
        self._fingerprint: str | None = None
        self.adapter_method = self.method_class(base_model, tokenizer)
        if create_adapter:
            self.add_adapter(DEFAULT_ADAPTER)
        # As transformers' from_pretrained: a model is for using until `.train()` or the trainer says
        # otherwise, so dropout never makes two calls on one input disagree.
        self.eval()

    # ----- construction -------------------------------------------------------------------
    @classmethod
    def from_model(cls, model: PreTrainedModel, method_config, *, task_type=None, tokenizer=None, **kwargs):
        """Wrap an already-built transformers model (its weights are frozen in place)."""
        return cls(model, method_config, task_type=task_type, tokenizer=tokenizer, **kwargs)

    @classmethod
    def from_config(cls, model_config: ModelConfig, method_config, *, create_adapter: bool = True):
        """Load the base model (hub id, local folder or embedded short name) and wrap it."""
        return cls(model_config, method_config, create_adapter=create_adapter)

    def add_adapter(self, name: str, method_config=None, *, initialize: bool = True) -> nn.Module:
        """Add a named adapter (a task's prefix or prompt) to the bank."""
        if name in self.adapters:
            raise ValueError(f"adapter {name!r} already exists; pick another name")
        adapter = self.adapter_method.new_adapter(method_config or self.method_config)
        adapter.to(self._device()).train(self.training)  # a new module starts in training mode
        if initialize:
            self.adapter_method.initialize(adapter)
        self.adapters[name] = adapter
        return adapter

    def _device(self) -> torch.device:
        return next(self.base_model.parameters()).device

    # ----- introspection ------------------------------------------------------------------
    @property
    def adapter_names(self) -> list[str]:
        return list(self.adapters.keys())

    def num_trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def num_base_parameters(self) -> int:
        return sum(p.numel() for p in self.base_model.parameters())

    def base_fingerprint(self) -> str:
        # Frozen weights never change, so the digest is computed once per wrapper.
        if self._fingerprint is None:
            self._fingerprint = weights_fingerprint(self.base_model, set(self.head_names))
        return self._fingerprint

    def training_defaults(self) -> dict:
        """The active adapter's method's default learning rate and optimizer (see its registration)."""
        return dict(method_of_config(cast(Adapter, self.adapters[self.active_adapter]).config).training_defaults)

    def gradient_checkpointing_enable(self) -> None:
        # Non-reentrant checkpointing sees the prefix tensors carried in keyword arguments.
        self.base_model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})

    def _example_adapters(self, task_ids: torch.Tensor | None) -> tuple[list[nn.Module], torch.Tensor | None]:
        """The adapters a batch needs (each run once) and each example's index into them."""
        if task_ids is None:
            return [self.adapters[self.active_adapter]], None
        task_ids = torch.as_tensor(task_ids, device=self._device())
        present = torch.unique(task_ids)
        if int(present.min()) < 0 or int(present.max()) >= len(self.adapters):
            raise ValueError(f"task_ids must index the adapters {self.adapter_names}; got {present.tolist()}")
        modules = [self.adapters[self.adapter_names[i]] for i in present.tolist()]
        return modules, torch.searchsorted(present, task_ids)

    # ----- save / load --------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike, *, training_state: bool = False, adapter: str | None = None) -> Path:
        """Save one adapter: folded for inference (default), or with its training form to resume."""
        module = self.adapters[adapter or self.active_adapter]
        tensors: dict[str, torch.Tensor] = {f"head.{n}": p for n, p in self.base_model.named_parameters() if n in self.head_names}
        if training_state:
            tensors |= {f"adapter.{n}": t for n, t in module.state_dict().items()}
        else:
            tensors |= self.adapter_method.folded_tensors(module)
        config = ArtifactConfig(
            method=method_of_config(cast(Adapter, module).config).name,
            form="training" if training_state else "folded",
            task_type=self.task_type,
            method_config=cast(Adapter, module).config.model_dump(),
            layout=self.adapter_method.layout(),
            hidden_size=self.base_model.config.get_text_config().hidden_size,
            base_model=self._identity(),
            head=self.head_names,
            label_names=self.label_names(),
            library_versions=library_versions(),
        )
        card = model_card(config, self.num_trainable_parameters(), self.num_base_parameters())
        return write_artifact(directory, config, tensors, card=None if training_state else card)

    def label_names(self) -> list[str] | None:
        """The head's class names when they were given (not transformers' LABEL_0, LABEL_1, ...)."""
        if self.task_type not in HEAD_TASK_TYPES:
            return None
        # transformers keys id2label by int, but a config read from JSON may key it by str
        id2label = {int(key): str(name) for key, name in (self.base_model.config.id2label or {}).items()}
        names = [id2label.get(index) for index in range(len(id2label))]
        if not names or names == [f"LABEL_{index}" for index in range(len(names))]:
            return None
        return [str(name) for name in names]

    def _identity(self) -> BaseModelIdentity:
        return BaseModelIdentity(
            model_type=self.base_model.config.model_type,
            name_or_path=cast(str, self.model_name_or_path),
            revision=self.revision,
            fingerprint=self.base_fingerprint(),
            num_labels=self.base_model.config.num_labels if self.task_type in HEAD_TASK_TYPES else None,
        )

    def export_peft(self, directory: str | os.PathLike, adapter: str | None = None, max_length: int | None = None) -> Path:
        """Write the adapter in PEFT's format (causal LMs); see prefixes.peft_export."""
        return export_peft(self, directory, adapter, max_length=max_length)

    @classmethod
    def from_peft(cls, directory: str | os.PathLike, base_model: PreTrainedModel | None = None, *, tokenizer=None):
        """Load a PEFT prefix- or prompt-tuning adapter folder (causal LMs), in eval mode; see prefixes.peft_import."""
        return import_peft(cls, directory, base_model, tokenizer=tokenizer)

    def load_adapter(self, directory: str | os.PathLike, name: str) -> nn.Module:
        """Add a saved adapter of this same base model to the bank under ``name``."""
        if name in self.adapters:
            raise ValueError(f"adapter {name!r} already exists; pick another name")
        config, tensors = read_artifact(directory)
        self._check_method(config, directory)
        self._check_base(config, directory)
        adapter = self.adapter_method.adapter_from_tensors(config, tensors)
        self.adapters[name] = adapter.to(self._device()).train(self.training)
        return self.adapters[name]

    def load_training_state(self, directory: str | os.PathLike) -> None:
        """Restore the active adapter and head from a training-form artifact, in place (resuming)."""
        config, tensors = read_artifact(directory)
        if config.form != "training":
            raise ValueError(f"{directory} is a folded artifact; resuming needs a training checkpoint")
        self._check_base(config, directory)
        self._load_head(config, tensors)
        adapter_state = {k.removeprefix("adapter."): v for k, v in tensors.items() if k.startswith("adapter.")}
        self.adapters[self.active_adapter].load_state_dict(adapter_state)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, base_model: PreTrainedModel | None = None, *, tokenizer=None):
        """Load an artifact; the base model is loaded from the recorded id when not given."""
        config, tensors = read_artifact(directory)
        cls._check_method(config, directory)
        method_config = cls.method_class.config_class.model_validate(config.method_config)
        identity = config.base_model
        if base_model is None:
            with head_restored_after_loading():
                wrapper = cls.from_config(_model_config(config), method_config, create_adapter=False)
        else:
            wrapper = cls(base_model, method_config, task_type=cast(TaskType, config.task_type), tokenizer=tokenizer,
                          model_name_or_path=identity.name_or_path, revision=identity.revision,
                          fresh_parameters=config.head, create_adapter=False)
        wrapper._check_base(config, directory)
        wrapper._load_head(config, tensors)
        if config.label_names is not None:
            names = config.label_names
            wrapper.base_model.config.id2label = dict(enumerate(names))
            wrapper.base_model.config.label2id = {name: index for index, name in enumerate(names)}
        adapter = wrapper.adapter_method.adapter_from_tensors(config, tensors)
        wrapper.adapters[DEFAULT_ADAPTER] = adapter.to(wrapper._device())
        return wrapper.eval()

    @classmethod
    def _check_method(cls, config: ArtifactConfig, source) -> None:
        spec = get_method(config.method)
        if spec.config_class is not cls.method_class.config_class:
            raise ValueError(
                f"{source} holds a {config.method!r} artifact; load it with {spec.wrapper} "
                f"(this is {cls.__name__}) or use prefixes.load_adapter"
            )

    def _check_base(self, config: ArtifactConfig, source) -> None:
        expected = config.base_model
        actual_type = self.base_model.config.model_type
        if expected.model_type != actual_type:
            raise ValueError(
                f"{source} was trained on a {expected.model_type!r} model ({expected.name_or_path}); "
                f"the base model given is a {actual_type!r} model: load {expected.name_or_path} instead"
            )
        hidden_size = self.base_model.config.get_text_config().hidden_size
        if config.hidden_size is not None and config.hidden_size != hidden_size:
            raise ValueError(
                f"{source} records hidden_size {config.hidden_size}, the base model has {hidden_size}: the artifact "
                f"was edited or belongs to another model; load {expected.name_or_path} or save the artifact again"
            )
        layout = self.adapter_method.layout()
        if config.layout is not None and config.layout != layout:
            raise ValueError(
                f"{source} expects attention sites {config.layout}, the base model has {layout}: "
                f"load {expected.name_or_path} instead"
            )
        if expected.fingerprint != self.base_fingerprint():
            raise ValueError(
                f"{source} was trained on different base weights (fingerprint {expected.fingerprint}, "
                f"this model {self.base_fingerprint()}): load {expected.name_or_path}"
                + (f" at revision {expected.revision}" if expected.revision else "")
            )

    def _load_head(self, config: ArtifactConfig, tensors: dict[str, torch.Tensor]) -> None:
        params = dict(self.base_model.named_parameters())
        with torch.no_grad():
            for name in config.head:
                if name not in params or params[name].shape != tensors[f"head.{name}"].shape:
                    raise ValueError(f"head parameter {name!r} of the artifact does not fit the base model's head")
                params[name].copy_(tensors[f"head.{name}"])


def _model_config(config: ArtifactConfig) -> ModelConfig:
    """How to load the base model an artifact records."""
    identity = config.base_model
    needs_labels = config.task_type == "text_classification"
    return ModelConfig(model_name_or_path=identity.name_or_path, task_type=cast(TaskType, config.task_type),
                       num_labels=identity.num_labels if needs_labels else None, revision=identity.revision,
                       label_names=config.label_names if needs_labels else None)


def load_adapter(path: str | os.PathLike, base_model: PreTrainedModel | None = None) -> AdaptedModel:
    """Load any artifact with the wrapper class its method is registered with."""
    wrapper_class = get_method(read_artifact_config(path).method).wrapper_class()
    return wrapper_class.from_pretrained(path, base_model)
