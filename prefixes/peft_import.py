"""Import a Hugging Face PEFT prompt-learning adapter (``adapter_config.json`` + ``adapter_model.safetensors``).

The reverse of ``prefixes.peft_export``: a PEFT prefix-tuning adapter (with or without
``prefix_projection``) loads into ``PrefixTuningModel``, a prompt-tuning adapter into
``PromptTuningModel``, over a causal language model, with the logits ``PeftModel`` gives. What an
adapter is in our terms is its method's to say (``AdapterMethod.config_from_peft`` and
``adapter_from_peft``); this module reads the folder and builds the wrapper. The result is an
ordinary wrapper in eval mode: ``save_pretrained`` makes it an artifact the registry publishes.

Without ``base_model``, the base model is loaded from the adapter's ``base_model_name_or_path``; the Hub
id of an embedded model (as our export writes it) loads the embedded copy, so an export imports offline.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from transformers import PreTrainedModel

from prefixes.artifact.card import EMBEDDED_HUB_IDS
from prefixes.config import ModelConfig
from prefixes.peft_export import PEFT_CONFIG_NAME, PEFT_WEIGHTS_NAME

_EMBEDDED_BY_HUB_ID = {hub_id: name for name, hub_id in EMBEDDED_HUB_IDS.items()}


def read_peft_adapter(directory: str | os.PathLike) -> tuple[dict[str, Any], torch.Tensor]:
    """PEFT's config and ``prompt_embeddings`` tensor, refused with the reason when PEFT import cannot take them."""
    directory = Path(directory)
    missing = [name for name in (PEFT_CONFIG_NAME, PEFT_WEIGHTS_NAME) if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{directory} is not a PEFT adapter folder: missing {', '.join(missing)} (PEFT's save_pretrained writes "
            "both; an adapter saved as adapter_model.bin: load it in PEFT and save it again with safetensors)"
        )
    config = json.loads((directory / PEFT_CONFIG_NAME).read_text())
    task_type = config.get("task_type")
    if task_type != "CAUSAL_LM" or config.get("num_transformer_submodules", 1) != 1:
        raise ValueError(
            f"{directory / PEFT_CONFIG_NAME} has task_type {task_type!r}: PEFT import takes causal language model "
            "adapters (task_type 'CAUSAL_LM'), whose prefix or prompt means the same here; train other tasks here"
        )
    tensors = load_file(str(directory / PEFT_WEIGHTS_NAME))
    if "prompt_embeddings" not in tensors:
        raise ValueError(
            f"{directory / PEFT_WEIGHTS_NAME} holds {sorted(tensors)}, not PEFT's prompt_embeddings: it is a "
            f"{config.get('peft_type')!r} adapter, not prefix or prompt tuning; load it with peft.PeftModel"
        )
    return config, tensors["prompt_embeddings"]


def import_peft(cls: Any, directory: str | os.PathLike, base_model: PreTrainedModel | None = None, *,
                tokenizer: Any = None) -> Any:
    """An ``AdaptedModel`` subclass ``cls`` holding the PEFT adapter in ``directory`` as its default adapter."""
    peft_config, tensor = read_peft_adapter(directory)
    method_config = cls.method_class.config_from_peft(peft_config)
    name, revision = peft_config.get("base_model_name_or_path"), peft_config.get("revision")
    if revision is None and name in _EMBEDDED_BY_HUB_ID:
        name = _EMBEDDED_BY_HUB_ID[name]
    if base_model is not None:
        wrapper = cls.from_model(base_model, method_config, task_type="text_generation", tokenizer=tokenizer,
                                 model_name_or_path=name, revision=revision, create_adapter=False)
    elif not name:
        raise ValueError(f"{Path(directory) / PEFT_CONFIG_NAME} names no base_model_name_or_path: pass the base "
                         "model it was trained on (base_model=...)")
    else:
        model_config = ModelConfig(model_name_or_path=name, task_type="text_generation", revision=revision)
        wrapper = cls.from_config(model_config, method_config, create_adapter=False)
    adapter = wrapper.adapter_method.adapter_from_peft(method_config, peft_config, tensor)
    wrapper.adapters[wrapper.active_adapter] = adapter.to(wrapper._device())
    return wrapper.eval()
