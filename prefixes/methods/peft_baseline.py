"""Baselines trained through PEFT ((IA)^3, LoRA): saved as PEFT's adapter files, loaded back over a
freshly loaded base model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from peft.utils import load_peft_weights, set_peft_model_state_dict
from pydantic import BaseModel

from prefixes.config import ModelConfig
from prefixes.methods.full_finetune.wrapper import FullFinetuneModel
from prefixes.methods.registry import method_of_config


class PeftBaselineModel(FullFinetuneModel):
    """A frozen transformers model with PEFT's trained additions; saved as PEFT's adapter files."""

    added_parameter_marks: ClassVar[tuple[str, ...]]
    """Substrings of the names of the parameters PEFT adds (its vectors or matrices, trained head copies)."""

    @classmethod
    def _restored(cls, directory: Path, model_config: ModelConfig, method_config: BaseModel) -> FullFinetuneModel:
        """The base model, then the saved additions; the method config must be the one it trained with
        (the same layers carry them)."""
        model = cls(model_config, method_config)
        weights = load_peft_weights(os.fspath(directory))
        result: Any = set_peft_model_state_dict(model.model, weights)  # torch's (missing, unexpected) keys
        missing_keys, unexpected = result
        missing = [key for key in missing_keys if any(mark in key for mark in cls.added_parameter_marks)]
        if missing or unexpected:
            name = method_of_config(method_config).name
            raise ValueError(
                f"{directory} does not fit {name} with config {method_config.model_dump()}: missing "
                f"{missing[:4]}, unexpected {list(unexpected)[:4]}; load it with the config it trained with"
            )
        return model.eval()
