"""Wrappers that freeze a transformers model and train a prefix (or soft prompt) for it.

``AdaptedModel`` holds what both methods share: freezing, the trainable task head, a bank of
named adapters (one per task; a batch may pick one per example), and save/load. The method
specifics live in ``prefix_model.py`` / ``prompt_model.py`` and the method modules.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.models.auto import modeling_auto as auto_names

from prefixes.artifact import (
    ArtifactConfig,
    BaseModelIdentity,
    library_versions,
    read_artifact,
    weights_fingerprint,
    write_artifact,
)
from prefixes.base_models import load_base_model, load_tokenizer
from prefixes.config import HEAD_TASK_TYPES, ModelConfig, TaskType

DEFAULT_ADAPTER = "default"

def _head_class_names(mapping: dict) -> set[str]:
    names = set()
    for value in mapping.values():
        names.update([value] if isinstance(value, str) else value)
    return names


# transformers' own registry of which head class serves which task.
_TASK_BY_HEAD_CLASSES = {
    "text_generation": _head_class_names(auto_names.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES),
    "seq2seq_generation": _head_class_names(auto_names.MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES),
    "text_classification": _head_class_names(auto_names.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES),
    "token_classification": _head_class_names(auto_names.MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES),
    "question_answering": _head_class_names(auto_names.MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES),
}


def infer_task_type(model: PreTrainedModel) -> TaskType:
    """The task type transformers associates with the model's head class."""
    name = type(model).__name__
    for task_type, classes in _TASK_BY_HEAD_CLASSES.items():
        if name in classes:
            return task_type
    raise ValueError(f"cannot tell the task type of {name}: pass task_type=... explicitly")


def head_parameter_names(model: PreTrainedModel, task_type: str, fresh: list[str]) -> list[str]:
    """Parameters that train with the prefix: a classification/QA head and any freshly initialised weight."""
    names = {name for name, _ in model.named_parameters()}
    head = {name for name in fresh if name in names}
    if task_type in HEAD_TASK_TYPES:
        backbone = model.base_model_prefix + "."
        head |= {name for name in names if not name.startswith(backbone)}
    return sorted(head)


class AdaptedModel(nn.Module):
    """A frozen transformers model plus a bank of per-task adapters (subclasses define the adapter)."""

    method: ClassVar[str]
    methods: ClassVar[frozenset[str]]

    def __init__(
        self,
        model: ModelConfig | PreTrainedModel,
        method_config,
        *,
        task_type: TaskType | None = None,
        tokenizer=None,
        model_name_or_path: str | None = None,
        revision: str | None = None,
        fresh_parameters: list[str] = (),
        create_adapter: bool = True,
    ):
        """Wrap ``model``: a ``ModelConfig`` (the base model is loaded) or a built transformers model."""
        super().__init__()
        if not isinstance(method_config, self._config_class()):
            raise TypeError(
                f"{type(self).__name__} takes a {self._config_class().__name__}, got {type(method_config).__name__}"
            )
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
        self._setup_method()
        if create_adapter:
            self.add_adapter(DEFAULT_ADAPTER)

    def _setup_method(self) -> None:
        """Resolve what the method needs from the base model, before any adapter is made."""

    # ----- construction -------------------------------------------------------------------
    @classmethod
    def from_model(cls, model: PreTrainedModel, method_config, *, task_type=None, tokenizer=None, **kwargs):
        """Wrap an already-built transformers model (its weights are frozen in place)."""
        return cls(model, method_config, task_type=task_type, tokenizer=tokenizer, **kwargs)

    @classmethod
    def from_config(cls, model_config: ModelConfig, method_config, *, create_adapter: bool = True):
        """Load the base model (hub id, local folder or embedded short name) and wrap it."""
        return cls(model_config, method_config, create_adapter=create_adapter)

    def _new_adapter(self, method_config) -> nn.Module:
        raise NotImplementedError

    def add_adapter(self, name: str, method_config=None, *, initialize: bool = True) -> nn.Module:
        """Add a named adapter (a task's prefix or prompt) to the bank."""
        if name in self.adapters:
            raise ValueError(f"adapter {name!r} already exists; pick another name")
        adapter = self._new_adapter(method_config or self.method_config)
        adapter.to(self._device())
        if initialize:
            self._initialize(adapter)
        self.adapters[name] = adapter
        return adapter

    def _initialize(self, adapter: nn.Module) -> None:
        raise NotImplementedError

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

    def load_adapter(self, directory: str | os.PathLike, name: str) -> nn.Module:
        """Add a saved adapter of this same base model to the bank under ``name``."""
        if name in self.adapters:
            raise ValueError(f"adapter {name!r} already exists; pick another name")
        config, tensors = read_artifact(directory)
        if config.method not in self.methods:
            raise ValueError(f"{directory} holds a {config.method!r} artifact; {type(self).__name__} takes {sorted(self.methods)}")
        self._check_base(config, directory)
        self.adapters[name] = self._adapter_from_tensors(config, tensors).to(self._device())
        return self.adapters[name]

    def training_defaults(self) -> dict:
        """The method's default learning rate and optimizer (see the method module)."""
        raise NotImplementedError

    def load_training_state(self, directory: str | os.PathLike) -> None:
        """Restore the active adapter and head from a training-form artifact, in place (resuming)."""
        config, tensors = read_artifact(directory)
        if config.form != "training":
            raise ValueError(f"{directory} is a folded artifact; resuming needs a training checkpoint")
        self._check_base(config, directory)
        self._load_head(config, tensors)
        adapter_state = {k.removeprefix("adapter."): v for k, v in tensors.items() if k.startswith("adapter.")}
        self.adapters[self.active_adapter].load_state_dict(adapter_state)

    # ----- save / load --------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike, *, training_state: bool = False, adapter: str | None = None) -> Path:
        """Save one adapter: folded for inference (default), or with its training form to resume."""
        name = adapter or self.active_adapter
        module = self.adapters[name]
        tensors = {f"head.{n}": p for n, p in self.base_model.named_parameters() if n in self.head_names}
        if training_state:
            tensors |= {f"adapter.{n}": t for n, t in module.state_dict().items()}
        else:
            tensors |= self._folded_tensors(module)
        config = ArtifactConfig(
            method=self._method_name(module),
            form="training" if training_state else "folded",
            task_type=self.task_type,
            method_config=module.config.model_dump(),
            layout=self._layout_dict(),
            hidden_size=self.base_model.config.get_text_config().hidden_size,
            base_model=BaseModelIdentity(
                model_type=self.base_model.config.model_type,
                name_or_path=self.model_name_or_path,
                revision=self.revision,
                fingerprint=self.base_fingerprint(),
                num_labels=self.base_model.config.num_labels if self.task_type in HEAD_TASK_TYPES else None,
            ),
            head=self.head_names,
            library_versions=library_versions(),
        )
        return write_artifact(directory, config, tensors)

    def export_peft(self, directory: str | os.PathLike, adapter: str | None = None, max_length: int | None = None) -> Path:
        """Write the adapter in PEFT's format (causal LMs); see prefixes.peft_export."""
        from prefixes.peft_export import export_peft

        return export_peft(self, directory, adapter, max_length=max_length)

    def _method_name(self, adapter: nn.Module) -> str:
        return self.method

    def _layout_dict(self) -> dict | None:
        return None

    def _folded_tensors(self, adapter: nn.Module) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _adapter_from_tensors(self, config: ArtifactConfig, tensors: dict[str, torch.Tensor]) -> nn.Module:
        raise NotImplementedError

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, base_model: PreTrainedModel | None = None, *, tokenizer=None):
        """Load an artifact; the base model is loaded from the recorded id when not given."""
        config, tensors = read_artifact(directory)
        if config.method not in cls.methods:
            raise ValueError(
                f"{directory} holds a {config.method!r} artifact; load it with the class for that method "
                f"(this is {cls.__name__}, for {sorted(cls.methods)}) or use prefixes.load_adapter"
            )
        identity = config.base_model
        if base_model is None:
            model_config = ModelConfig(
                model_name_or_path=identity.name_or_path,
                task_type=config.task_type,
                num_labels=identity.num_labels if config.task_type in ("text_classification", "token_classification") else None,
                revision=identity.revision,
            )
            wrapper = cls.from_config(
                model_config, cls._config_class().model_validate(config.method_config), create_adapter=False
            )
        else:
            wrapper = cls(
                base_model,
                cls._config_class().model_validate(config.method_config),
                task_type=config.task_type,
                tokenizer=tokenizer,
                model_name_or_path=identity.name_or_path,
                revision=identity.revision,
                fresh_parameters=config.head,
                create_adapter=False,
            )
        wrapper._check_base(config, directory)
        wrapper._load_head(config, tensors)
        wrapper.adapters[DEFAULT_ADAPTER] = wrapper._adapter_from_tensors(config, tensors).to(wrapper._device())
        return wrapper

    @classmethod
    def _config_class(cls):
        raise NotImplementedError

    def _check_base(self, config: ArtifactConfig, source) -> None:
        expected = config.base_model
        actual_type = self.base_model.config.model_type
        if expected.model_type != actual_type:
            raise ValueError(
                f"{source} was trained on a {expected.model_type!r} model ({expected.name_or_path}); "
                f"the base model given is a {actual_type!r} model: load {expected.name_or_path} instead"
            )
        if config.layout is not None and config.layout != self._layout_dict():
            raise ValueError(
                f"{source} expects attention sites {config.layout}, the base model has {self._layout_dict()}: "
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


def load_adapter(path: str | os.PathLike, base_model: PreTrainedModel | None = None) -> AdaptedModel:
    """Load any artifact with the wrapper class its method needs."""
    from prefixes.prefix_model import PrefixTuningModel
    from prefixes.prompt_model import PromptTuningModel

    config, _ = read_artifact(path)
    cls = PromptTuningModel if config.method == "prompt" else PrefixTuningModel
    return cls.from_pretrained(path, base_model)
