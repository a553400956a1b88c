"""The baseline wrappers: a transformers model trained in full (here), or through PEFT (LoRA, (IA)^3).

Baselines train through the very same loop as the prefix methods, so wall time, peak memory and
metrics are measured the same way. They save what their library saves (a transformers model
folder, PEFT's adapter files) plus ``baseline_config.json``, which ``prefixes.load`` reads to load
them back like any other artifact.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol, cast

import torch
from pydantic import BaseModel
from torch import nn
from transformers import PreTrainedModel

from prefixes.base_models import head_restored_after_loading, load_base_model, load_tokenizer
from prefixes.config import ModelConfig
from prefixes.io import write_atomic
from prefixes.methods.full_finetune.config import FullFinetuneConfig
from prefixes.methods.registry import get_method, method_of_config
from prefixes.strict import StrictModel

BASELINE_CONFIG = "baseline_config.json"
"""What a saved baseline is: its method, the model config it loads with, the method's config."""


class BaselineRecord(StrictModel):
    """``baseline_config.json``: enough to load a saved baseline back (``FullFinetuneModel.from_pretrained``)."""

    method: str
    model: ModelConfig
    method_config: dict[str, Any]


class _SavesPretrained(Protocol):
    """The trained model: a transformers or a PEFT model."""

    def save_pretrained(self, save_directory: str | os.PathLike, /) -> Any: ...


class FullFinetuneModel(nn.Module):
    """A transformers model whose every weight trains."""

    def __init__(self, model_config: ModelConfig, method_config: BaseModel | None = None, *,
                 weights_from: Path | None = None):
        """``weights_from``: a saved full fine-tuning's folder, whose weights replace the base model's."""
        super().__init__()
        weights = model_config if weights_from is None else model_config.model_copy(
            update={"model_name_or_path": str(weights_from), "revision": None})
        base, _ = load_base_model(weights)
        self.method_config = method_config or FullFinetuneConfig()
        self.model_config = model_config
        self.task_type = model_config.task_type
        self.tokenizer = load_tokenizer(model_config.model_name_or_path, model_config.revision)
        self.adapters = nn.ModuleDict()  # no prefix bank: one model, one task
        self.model = self._trained_model(base)
        self.base_model = base
        self.eval()  # as transformers' from_pretrained: training mode comes from `.train()` or the trainer

    @classmethod
    def from_config(cls, model_config: ModelConfig, method_config: BaseModel | None = None):
        """Load the base model and wrap it (the same entry point every method's wrapper has)."""
        return cls(model_config, method_config)

    def _trained_model(self, base: PreTrainedModel) -> nn.Module:
        return base

    def training_defaults(self) -> dict:
        return dict(method_of_config(self.method_config).training_defaults)

    def forward(self, **batch):
        return self.model(**batch)

    @torch.no_grad()
    def generate(self, **kwargs):
        """transformers generation with the trained model (LoRA: through PEFT's model)."""
        return cast(Any, self.model).generate(**kwargs)

    def gradient_checkpointing_enable(self) -> None:
        self.base_model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})

    def num_trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def num_base_parameters(self) -> int:
        return sum(p.numel() for p in self.base_model.parameters())

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """The whole model with its tokenizer (PEFT baselines: PEFT's adapter files), safetensors either
        way, and ``baseline_config.json`` to load it back with ``prefixes.load``."""
        cast(_SavesPretrained, self.model).save_pretrained(directory)
        record = BaselineRecord(method=method_of_config(self.method_config).name, model=self.model_config,
                                method_config=self.method_config.model_dump(mode="json"))
        write_atomic(Path(directory) / BASELINE_CONFIG, record.model_dump_json(indent=2).encode())
        return Path(directory)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> FullFinetuneModel:
        """The baseline ``save_pretrained`` wrote to ``directory``, in eval mode, with the wrapper of its method."""
        path = Path(directory) / BASELINE_CONFIG
        try:
            record = BaselineRecord.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            raise ValueError(f"{directory} holds no {BASELINE_CONFIG}: it is no saved baseline; save one with "
                             "save_pretrained") from None
        spec = get_method(record.method)
        wrapper = spec.wrapper_class()
        if not issubclass(wrapper, cls):
            raise ValueError(f"{directory} holds a {record.method!r} baseline; load it with prefixes.load")
        return wrapper._restored(Path(directory), record.model, spec.config_class.model_validate(record.method_config))

    @classmethod
    def _restored(cls, directory: Path, model_config: ModelConfig, method_config: BaseModel) -> FullFinetuneModel:
        """Full fine-tuning saved the whole model: it loads from ``directory``, the tokenizer from the base."""
        with head_restored_after_loading():  # the saved head is the trained one, not a fresh one
            return cls(model_config, method_config, weights_from=directory)
