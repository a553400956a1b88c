"""Prefix tuning, prompt tuning and P-tuning v2 for frozen transformers models.

Names are imported on first use, so light entry points (the registry CLI, config validation) do
not pay for importing torch and transformers.
"""

from __future__ import annotations

import os

# Offline unless the user says otherwise (HF_HUB_OFFLINE=0): the embedded models and corpora need no
# hub, and a mistyped hub id fails at once instead of after a minute of retries. Set before any
# Hugging Face module is imported, since they read it once at import; covers the `prefixes` command.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from prefixes.lazy import lazy_exports  # noqa: E402  (after the settings above)

_EXPORTS = {
    "ModelConfig": "prefixes.config",
    "PrefixConfig": "prefixes.methods.prefix.config",
    "PromptConfig": "prefixes.methods.prompt.config",
    "TrainingConfig": "prefixes.config",
    "PrefixTuningModel": "prefixes.methods.prefix.wrapper",
    "interpolate_models": "prefixes.interpolation",
    "PromptTuningModel": "prefixes.methods.prompt.wrapper",
    "load_adapter": "prefixes.model",
    "load": "prefixes.loading",
    "PrefixTrainer": "prefixes.train",
    "PromptTrainer": "prefixes.train",
    "Trainer": "prefixes.train",
    "Registry": "prefixes.registry",
    "MethodSpec": "prefixes.methods.registry",
    "get_method": "prefixes.methods.registry",
    "method_names": "prefixes.methods.registry",
    "register_method": "prefixes.methods.registry",
    "MultiTaskModel": "prefixes.bundle",
    "push_to_hub": "prefixes.hub",
}

__all__ = list(sorted(_EXPORTS))


__getattr__ = lazy_exports(__name__, _EXPORTS)
