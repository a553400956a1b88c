"""Export an adapter in Hugging Face PEFT's format (``adapter_config.json`` + ``adapter_model.safetensors``).

PEFT represents a prefix as one (P, layers * 2 * kv_heads * head_dim) tensor injected through the
KV cache of a decoder-only model, and a prompt as (P, hidden). Our folded prefix, flattened per
virtual token, has exactly PEFT's [layer][key|value][head][dim] order. Each method says what its
adapter is in PEFT's terms (``AdapterMethod.peft_adapter``); whatever PEFT cannot express
(seq2seq encoder and cross-attention prefixes, trained task heads) is refused, not approximated.

Sliding-window layers are where the two differ silently: our prefix conditions every position,
while PEFT's, cached at the oldest positions, leaves the window of a query once prefix + sequence
exceeds ``sliding_window`` tokens. A prefix is exported for such a model only when the caller
states, with ``max_length``, that its sequences (prompt plus generated tokens) stay short enough
for PEFT to compute the same thing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from safetensors.torch import save_file

from prefixes.artifact.card import EMBEDDED_HUB_IDS, hub_model_id

PEFT_CONFIG_NAME = "adapter_config.json"
PEFT_WEIGHTS_NAME = "adapter_model.safetensors"


def export_peft(model, directory: str | os.PathLike, adapter: str | None = None, max_length: int | None = None) -> Path:
    """Write the active (or named) adapter of an ``AdaptedModel`` so that
    ``peft.PeftModel.from_pretrained(base, directory)`` loads it.

    ``max_length``: the longest sequence the exported adapter will see; needed for sliding-window models.
    """
    if model.task_type != "text_generation":
        raise ValueError(
            f"PEFT export supports causal language models (task_type 'text_generation'); this model is "
            f"{model.task_type!r}: PEFT cannot represent our encoder/cross-attention prefixes or trained heads. "
            "Use save_pretrained instead"
        )
    module = model.adapters[adapter or model.active_adapter]
    fields, tensor = model.adapter_method.peft_adapter(module, max_length)
    embedded = model.model_name_or_path in EMBEDDED_HUB_IDS
    config = {
        "base_model_name_or_path": peft_base_model(model.model_name_or_path),
        "inference_mode": True,
        "num_layers": model.base_model.config.get_text_config().num_hidden_layers,
        "num_transformer_submodules": 1,
        "num_virtual_tokens": module.length,
        # An embedded model's Hub revision is not recorded by its wheel; a named one is kept.
        "revision": None if embedded else model.revision,
        "task_type": "CAUSAL_LM",
        **fields,
    }
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file({"prompt_embeddings": tensor.contiguous().cpu()}, str(directory / PEFT_WEIGHTS_NAME))
    (directory / PEFT_CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return directory


def peft_base_model(name_or_path: str | None) -> str | None:
    """What PEFT (``AutoPeftModel``, the Hub) loads the base model from: an embedded model's Hub id, a local
    folder by its absolute path, a hub id as given; None for a model built in memory, as PEFT writes it."""
    if not name_or_path:
        return None
    return hub_model_id(name_or_path) or str(Path(name_or_path).resolve())


def check_windows(base_model, windows: tuple[int | None, ...], prefix_length: int, max_length: int | None) -> None:
    """Refuse a prefix export that PEFT would run differently: a window the prefix could slide out of."""
    bounded = tuple(window for window in windows if window is not None)
    if not bounded:
        return
    window = min(bounded)
    if max_length is not None and prefix_length + max_length <= window:
        return
    name = type(base_model).__name__
    raise ValueError(
        f"{name} has sliding-window attention (sliding_window={window}): in PEFT the {prefix_length}-token prefix "
        f"falls out of the window once prefix + sequence exceeds {window} tokens, while here it stays visible to "
        f"every position. Pass max_length=N with N <= {window - prefix_length} if your sequences (prompt plus "
        "generated tokens) never exceed it, or keep the adapter in this library's format (save_pretrained)"
    )
