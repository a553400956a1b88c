"""Prefix tuning, prompt tuning and P-tuning v2 for frozen transformers models.

Names are imported on first use, so light entry points (the registry CLI, config validation) do
not pay for importing torch and transformers.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ModelConfig": "prefixes.config",
    "PrefixConfig": "prefixes.config",
    "PromptConfig": "prefixes.config",
    "TrainingConfig": "prefixes.config",
    "PrefixTuningModel": "prefixes.prefix_model",
    "interpolate_models": "prefixes.prefix_model",
    "PromptTuningModel": "prefixes.prompt_model",
    "load_adapter": "prefixes.model",
    "PrefixTrainer": "prefixes.train",
    "PromptTrainer": "prefixes.train",
    "Registry": "prefixes.registry",
    "MultiTaskModel": "prefixes.bundle",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'prefixes' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
