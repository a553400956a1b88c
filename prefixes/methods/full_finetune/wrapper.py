"""The baseline wrappers: a transformers model trained in full (here) or with LoRA (``lora.wrapper``).

Baselines train through the very same loop as the prefix methods, so wall time, peak memory and
metrics are measured the same way. They make no prefix artifact: they are measured in memory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol, cast

import torch
from pydantic import BaseModel
from torch import nn
from transformers import PreTrainedModel

from prefixes.base_models import load_base_model, load_tokenizer
from prefixes.config import ModelConfig
from prefixes.methods.full_finetune.config import FullFinetuneConfig
from prefixes.methods.registry import method_of_config


class _SavesPretrained(Protocol):
    """The trained model: a transformers or a PEFT model."""

    def save_pretrained(self, save_directory: str | os.PathLike, /) -> Any: ...


class FullFinetuneModel(nn.Module):
    """A transformers model whose every weight trains."""

    def __init__(self, model_config: ModelConfig, method_config: BaseModel | None = None):
        super().__init__()
        base, _ = load_base_model(model_config)
        self.method_config = method_config or FullFinetuneConfig()
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
        """The whole model (LoRA: PEFT's adapter files); safetensors either way."""
        cast(_SavesPretrained, self.model).save_pretrained(directory)
        return Path(directory)
