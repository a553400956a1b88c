"""Prefix tuning, prompt tuning and P-tuning v2 for frozen transformers models."""

from prefixes.config import ModelConfig, PrefixConfig, PromptConfig
from prefixes.model import load_adapter
from prefixes.prefix_model import PrefixTuningModel, interpolate_models
from prefixes.prompt_model import PromptTuningModel

__all__ = [
    "ModelConfig",
    "PrefixConfig",
    "PromptConfig",
    "PrefixTuningModel",
    "PromptTuningModel",
    "interpolate_models",
    "load_adapter",
]
