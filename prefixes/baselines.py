"""Builds a baseline by name for the pipeline's train stage, until it asks the method registry.

New code: ``get_method(name).wrapper_class()(model_config, get_method(name).make_config(...))``.
"""

from __future__ import annotations

from prefixes.config import ModelConfig
from prefixes.methods.registry import get_method


def BaselineModel(model_config: ModelConfig, kind: str, *, lora_r: int = 8, lora_alpha: int = 16):  # noqa: N802
    spec = get_method(kind)
    fields = {"r": lora_r, "alpha": lora_alpha} if "r" in spec.config_class.model_fields else {}
    return spec.wrapper_class()(model_config, spec.make_config(**fields))
