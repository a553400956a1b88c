"""(IA)^3 through PEFT: a frozen transformers model whose keys, values and feed-forward activations
are rescaled by trained vectors (and PEFT's trained copy of the task head)."""

from __future__ import annotations

from typing import cast

from peft import IA3Config as PeftIA3Config
from pydantic import BaseModel
from torch import nn
from transformers import PreTrainedModel

from prefixes.config import ModelConfig
from prefixes.methods.ia3.config import IA3Config
from prefixes.methods.peft_baseline import PeftBaselineModel
from prefixes.methods.peft_task import peft_task_type, wrapped_by_peft


class IA3Model(PeftBaselineModel):
    """A frozen transformers model with trained (IA)^3 scaling vectors; saved as PEFT's adapter files."""

    # The parameters PEFT adds: the scaling vectors and the trained copies of the head.
    added_parameter_marks = ("ia3_l.", "modules_to_save.")

    def __init__(self, model_config: ModelConfig, method_config: BaseModel | None = None):
        super().__init__(model_config, method_config or IA3Config())

    def _trained_model(self, base: PreTrainedModel) -> nn.Module:
        method_config = cast(IA3Config, self.method_config)
        config = PeftIA3Config(task_type=peft_task_type(self.task_type, "(IA)^3"), target_modules=method_config.target_modules,
                               feedforward_modules=method_config.feedforward_modules)
        try:
            return wrapped_by_peft(base, config)
        except ValueError as error:  # PEFT knows no default layers for this architecture
            raise ValueError(
                f"ia3 on model_type={base.config.model_type!r}: {error}; set the ia3 config's target_modules "
                "and feedforward_modules to the key/value and feed-forward output layers' names"
            ) from error

    def num_base_parameters(self) -> int:
        return sum(p.numel() for n, p in self.base_model.named_parameters()
                   if not any(mark in n for mark in self.added_parameter_marks))
