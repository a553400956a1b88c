"""A PEFT prefix-tuning adapter as this method's config and folded prefix (see prefixes.peft_import).

PEFT saves a prefix-tuning adapter as ``prompt_embeddings``, the past key values
(P, layers * 2 * kv_heads * head_dim), with or without ``prefix_projection``: with it, saving runs
PEFT's own encoder (embedding -> Linear -> Tanh -> Linear, ``get_prompt_embedding_to_save``) and
keeps its output, which is also all PEFT loads for inference. Both are therefore a folded prefix
here, in PEFT's [layer][key|value][head][dim] order; the projection says how it was trained: through
an MLP (prefix tuning) or flat (P-tuning v2's form).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from prefixes.methods.prefix.config import PrefixConfig
from prefixes.methods.prefix.encoder import PrefixEncoder, prefix_from_folded

if TYPE_CHECKING:
    from prefixes.inject.layout import PrefixLayout


def config_from_peft(peft_config: dict[str, Any]) -> PrefixConfig:
    """Prefix length and training form from PEFT's ``adapter_config.json``; PEFT has no prefix dropout."""
    if peft_config.get("peft_type") != "PREFIX_TUNING":
        raise ValueError(f"the PEFT adapter is {peft_config.get('peft_type')!r}, not 'PREFIX_TUNING': load prompt "
                         "tuning with PromptTuningModel.from_peft; other PEFT methods with peft.PeftModel")
    projection = bool(peft_config.get("prefix_projection"))
    fields: dict[str, Any] = {"prefix_length": int(peft_config["num_virtual_tokens"]), "reparameterization": projection,
                              "prefix_dropout": 0.0}
    if projection and peft_config.get("encoder_hidden_size"):
        fields["prefix_hidden_size"] = int(peft_config["encoder_hidden_size"])
    return PrefixConfig(**fields)


def prefix_from_peft(config: PrefixConfig, layout: PrefixLayout, peft_config: dict[str, Any],
                     tensor: torch.Tensor) -> PrefixEncoder:
    """The folded prefix of a PEFT checkpoint, refused unless its layers and key/value heads are this model's."""
    width = 2 * layout.num_kv_heads * layout.head_dim
    expected = (config.prefix_length, layout.num_sites * width)
    given = (peft_config.get("num_layers"), peft_config.get("num_attention_heads"), peft_config.get("token_dim"))
    if given != (layout.num_sites, layout.num_kv_heads, width // 2) or tuple(tensor.shape) != expected:
        raise ValueError(
            f"the PEFT adapter has num_layers={given[0]}, num_attention_heads={given[1]}, token_dim={given[2]} and "
            f"prompt_embeddings of shape {tuple(tensor.shape)}; this base model takes {layout.num_sites} layers of "
            f"{layout.num_kv_heads} key/value heads x {layout.head_dim} dims, {expected}: pass the base model the "
            "adapter was trained on (base_model=...)"
        )
    shaped = tensor.reshape(config.prefix_length, layout.num_sites, 2, layout.num_kv_heads, layout.head_dim)
    return prefix_from_folded(config, layout, shaped)
