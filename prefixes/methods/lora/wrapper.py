"""LoRA through PEFT, on every linear layer of the base model."""

from __future__ import annotations

from typing import cast

from peft import LoraConfig as PeftLoraConfig
from torch import nn
from transformers import PreTrainedModel

from prefixes.methods.lora.config import LoraConfig
from prefixes.methods.peft_baseline import PeftBaselineModel
from prefixes.methods.peft_task import peft_task_type, wrapped_by_peft


def _span_heads(base: PreTrainedModel) -> list[str]:
    """The QA head's linear layers: PEFT trains them whole (modules_to_save), so "all-linear" must not
    also put LoRA on them, which PEFT refuses."""
    backbone = base.base_model_prefix + "."
    return [name for name, module in base.named_modules() if isinstance(module, nn.Linear) and not name.startswith(backbone)]


class LoraModel(PeftBaselineModel):
    """A frozen transformers model with trained low-rank updates (and PEFT's task head)."""

    # The parameters PEFT adds: the low-rank matrices and the trained copies of the head.
    added_parameter_marks = ("lora_", "modules_to_save.")

    def _trained_model(self, base: PreTrainedModel) -> nn.Module:
        method_config = cast(LoraConfig, self.method_config)
        config = PeftLoraConfig(task_type=peft_task_type(self.task_type, "LoRA"), r=method_config.r,
                                lora_alpha=method_config.alpha, target_modules="all-linear",
                                exclude_modules=_span_heads(base) if self.task_type == "question_answering" else None)
        return wrapped_by_peft(base, config)

    def num_base_parameters(self) -> int:
        return sum(p.numel() for n, p in self.base_model.named_parameters() if "lora_" not in n)
