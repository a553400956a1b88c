"""A PEFT prompt-tuning adapter as this method's config (see prefixes.peft_import).

PEFT saves the soft prompt as ``prompt_embeddings`` (P, token_dim): the same embeddings this method
prepends, so the tensor is taken as it is; the config records the prompt length and how it started.
"""

from __future__ import annotations

from typing import Any

from prefixes.methods.prompt.config import PromptConfig

# PEFT's PromptTuningInit names; its other inits (from a file, ...) only say how training began.
_INITS = {"RANDOM": "random", "TEXT": "text", "SAMPLE_VOCAB": "vocab_sample"}


def config_from_peft(peft_config: dict[str, Any]) -> PromptConfig:
    """Prompt length and initialisation from PEFT's ``adapter_config.json``."""
    if peft_config.get("peft_type") != "PROMPT_TUNING":
        raise ValueError(f"the PEFT adapter is {peft_config.get('peft_type')!r}, not 'PROMPT_TUNING': load prefix "
                         "tuning with PrefixTuningModel.from_peft; other PEFT methods with peft.PeftModel")
    init = _INITS.get(str(peft_config.get("prompt_tuning_init")).upper(), "random")
    text = peft_config.get("prompt_tuning_init_text") if init == "text" else None
    return PromptConfig.model_validate({"num_virtual_tokens": int(peft_config["num_virtual_tokens"]),
                                        "prompt_tuning_init": init if init != "text" or text else "random",
                                        "prompt_tuning_init_text": text})
