"""Reference points for the compare stage: full fine-tuning and LoRA (through PEFT).

They train through the very same loop as the prefix methods, so wall time, peak memory and
metrics are measured the same way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from torch import nn

from prefixes.base_models import load_base_model, load_tokenizer
from prefixes.config import ModelConfig

# Full fine-tuning: BERT-paper style small learning rates; LoRA: the LoRA paper's RoBERTa range.
TRAINING_DEFAULTS = {
    "full_finetune": {"learning_rate": 5e-5, "optimizer": "adamw"},
    "lora": {"learning_rate": 5e-4, "optimizer": "adamw"},
}

_PEFT_TASK_TYPES = {
    "text_generation": "CAUSAL_LM",
    "text_classification": "SEQ_CLS",
    "seq2seq_generation": "SEQ_2_SEQ_LM",
    "token_classification": "TOKEN_CLS",
    "question_answering": "QUESTION_ANS",
}


class BaselineModel(nn.Module):
    """A transformers model trained in full, or with LoRA adapters on its attention projections."""

    def __init__(self, model_config: ModelConfig, kind: Literal["full_finetune", "lora"], *, lora_r: int = 8, lora_alpha: int = 16):
        super().__init__()
        base, _ = load_base_model(model_config)
        self.kind = kind
        self.task_type = model_config.task_type
        self.tokenizer = load_tokenizer(model_config.model_name_or_path, model_config.revision)
        self.adapters = nn.ModuleDict()  # no prefix bank: one model, one task
        if kind == "lora":
            from peft import LoraConfig, get_peft_model

            config = LoraConfig(task_type=_PEFT_TASK_TYPES[model_config.task_type], r=lora_r, lora_alpha=lora_alpha,
                                target_modules="all-linear")
            self.model = get_peft_model(base, config)
        else:
            self.model = base
        self.base_model = base

    def training_defaults(self) -> dict:
        return TRAINING_DEFAULTS[self.kind]

    def forward(self, **batch):
        return self.model(**batch)

    def gradient_checkpointing_enable(self) -> None:
        self.base_model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})

    def num_trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def num_base_parameters(self) -> int:
        return sum(p.numel() for n, p in self.base_model.named_parameters() if "lora_" not in n)

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """LoRA: PEFT's adapter files; full fine-tuning: the whole model. safetensors either way."""
        self.model.save_pretrained(directory)
        return Path(directory)
