"""Tiny random causal LMs of the architecture families users fine-tune (2 layers, hidden 32).

Each family is a transformers ``model_type`` plus the overrides its config needs to stay tiny and
valid (experts, rotary dims, pad ids inside the 96-token vocabulary).
"""

from __future__ import annotations

import torch
from transformers import AutoConfig, AutoModelForCausalLM

VOCAB = 96
_COMMON = dict(
    num_hidden_layers=2, hidden_size=32, num_attention_heads=4, intermediate_size=64,
    vocab_size=VOCAB, max_position_embeddings=128, bos_token_id=1, eos_token_id=2,
)
_EXPERTS = dict(num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32)

# family -> (model_type, config overrides)
FAMILIES: dict[str, tuple[str, dict]] = {
    "Llama": ("llama", {}),
    "Mistral": ("mistral", {}),
    "Ministral": ("ministral", {"head_dim": 8}),
    "Mixtral": ("mixtral", {"num_local_experts": 4}),
    "Qwen2": ("qwen2", {}),
    "Qwen2-MoE": ("qwen2_moe", {**_EXPERTS, "shared_expert_intermediate_size": 32}),
    "Qwen3": ("qwen3", {"head_dim": 8}),
    "Qwen3-MoE": ("qwen3_moe", {**_EXPERTS, "head_dim": 8}),
    "Gemma": ("gemma", {"head_dim": 8}),
    "Gemma 2": ("gemma2", {"head_dim": 8}),
    "Gemma 3": ("gemma3_text", {"head_dim": 8}),
    "Phi-1 / Phi-2": ("phi", {}),
    "Phi-3": ("phi3", {"pad_token_id": 0}),
    "Phi-MoE": ("phimoe", {"num_local_experts": 4}),
    "GPT-2": ("gpt2", {}),
    "GPT-J": ("gptj", {"rotary_dim": 4}),
    "GPT-NeoX / Pythia": ("gpt_neox", {}),
    "GPT-Neo": ("gpt_neo", {"attention_types": [[["global", "local"], 1]], "window_size": 256}),
    "CodeGen": ("codegen", {"rotary_dim": 4}),
    "OPT": ("opt", {"ffn_dim": 64, "word_embed_proj_dim": 32}),
    "BLOOM": ("bloom", {}),
    "Falcon": ("falcon", {}),
    "StableLM": ("stablelm", {}),
    "OLMo": ("olmo", {}),
    "OLMo 2": ("olmo2", {}),
    "OLMoE": ("olmoe", {"num_experts": 4, "num_experts_per_tok": 2}),
    "Granite": ("granite", {}),
    "Granite-MoE": ("granitemoe", {"num_local_experts": 4}),
    "Cohere (Command R)": ("cohere", {}),
    "Cohere 2": ("cohere2", {}),
    "StarCoder2": ("starcoder2", {}),
    "GPT-BigCode (StarCoder)": ("gpt_bigcode", {}),
    "Persimmon": ("persimmon", {}),
    "GLM-4": ("glm4", {"pad_token_id": 0}),
    "SmolLM3": ("smollm3", {"pad_token_id": 0}),
    "Nemotron": ("nemotron", {}),
    "EXAONE 4": ("exaone4", {}),
    "ERNIE 4.5": ("ernie4_5", {}),
    "MPT": ("mpt", {}),
    "Falcon-H1 (hybrid Mamba)": ("falcon_h1", {}),
}


def family_model(family: str, seed: int = 0, **overrides):
    """A tiny random model of the family, in eval mode, deterministic for the seed."""
    model_type, extra = FAMILIES[family]
    # Grouped-query attention where the family has it; elsewhere the setting would be a stray
    # attribute that PEFT reads as the number of KV heads.
    grouped = {"num_key_value_heads": 2} if hasattr(AutoConfig.for_model(model_type), "num_key_value_heads") else {}
    config = AutoConfig.for_model(model_type, **{**_COMMON, **grouped, **extra, **overrides})
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(config).eval()
