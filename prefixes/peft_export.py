"""Export an adapter in Hugging Face PEFT's format (``adapter_config.json`` + ``adapter_model.safetensors``).

PEFT represents a prefix as one (P, layers * 2 * kv_heads * head_dim) tensor injected through the
KV cache of a decoder-only model, and a prompt as (P, hidden). Our folded prefix, flattened per
virtual token, has exactly PEFT's [layer][key|value][head][dim] order. Each method says what its
adapter is in PEFT's terms (``AdapterMethod.peft_adapter``); whatever PEFT cannot express
(seq2seq encoder and cross-attention prefixes, trained task heads) is refused, not approximated.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from safetensors.torch import save_file

PEFT_CONFIG_NAME = "adapter_config.json"
PEFT_WEIGHTS_NAME = "adapter_model.safetensors"


def export_peft(model, directory: str | os.PathLike, adapter: str | None = None) -> Path:
    """Write the active (or named) adapter of an ``AdaptedModel`` so that
    ``peft.PeftModel.from_pretrained(base, directory)`` loads it."""
    if model.task_type != "text_generation":
        raise ValueError(
            f"PEFT export supports causal language models (task_type 'text_generation'); this model is "
            f"{model.task_type!r}: PEFT cannot represent our encoder/cross-attention prefixes or trained heads. "
            "Use save_pretrained instead"
        )
    module = model.adapters[adapter or model.active_adapter]
    fields, tensor = model.adapter_method.peft_adapter(module)
    config = {
        "base_model_name_or_path": model.model_name_or_path,
        "inference_mode": True,
        "num_layers": model.base_model.config.get_text_config().num_hidden_layers,
        "num_transformer_submodules": 1,
        "num_virtual_tokens": module.length,
        "revision": model.revision,
        "task_type": "CAUSAL_LM",
        **fields,
    }
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file({"prompt_embeddings": tensor.contiguous().cpu()}, str(directory / PEFT_WEIGHTS_NAME))
    (directory / PEFT_CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return directory
