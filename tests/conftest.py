"""Shared fixtures: tiny random models of each architecture family, built from configs."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import pytest
import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    BartConfig,
    BertConfig,
    GPT2Config,
    LlamaConfig,
    Qwen2Config,
    RobertaConfig,
    T5Config,
)

VOCAB = 96

TINY_CONFIGS = {
    "gpt2": lambda: GPT2Config(n_layer=2, n_embd=32, n_head=4, vocab_size=VOCAB, n_positions=128,
                               bos_token_id=1, eos_token_id=2),
    "llama": lambda: LlamaConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, num_key_value_heads=2,
                                 intermediate_size=64, vocab_size=VOCAB, pad_token_id=0),
    "qwen2": lambda: Qwen2Config(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, num_key_value_heads=2,
                                 intermediate_size=64, vocab_size=VOCAB, pad_token_id=0),
    "bert": lambda: BertConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, intermediate_size=64,
                               vocab_size=VOCAB, num_labels=3),
    "roberta": lambda: RobertaConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, intermediate_size=64,
                                     vocab_size=VOCAB, num_labels=3, max_position_embeddings=130),
    "t5": lambda: T5Config(num_layers=2, num_decoder_layers=2, d_model=32, num_heads=4, d_kv=8, d_ff=64,
                           vocab_size=VOCAB, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1),
    "bart": lambda: BartConfig(encoder_layers=2, decoder_layers=2, d_model=32, encoder_attention_heads=4,
                               decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, vocab_size=VOCAB,
                               max_position_embeddings=128),
}
CAUSAL = ("gpt2", "llama", "qwen2")
ENCODERS = ("bert", "roberta")
SEQ2SEQ = ("t5", "bart")

_AUTO = {**{k: AutoModelForCausalLM for k in CAUSAL}, **{k: AutoModelForSequenceClassification for k in ENCODERS},
         **{k: AutoModelForSeq2SeqLM for k in SEQ2SEQ}}


def tiny_model(arch: str, seed: int = 0):
    """A 2-layer random model of the family, in eval mode, deterministic for the seed."""
    torch.manual_seed(seed)
    model = _AUTO[arch].from_config(TINY_CONFIGS[arch]())
    return model.eval()


def right_padded_batch(batch: int = 3, length: int = 7, seed: int = 1):
    """Token ids away from special ids, and a right-padded mask with rows of different lengths."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, VOCAB, (batch, length), generator=generator)
    mask = torch.ones(batch, length, dtype=torch.long)
    for row in range(1, batch):
        mask[row, length - 2 * row:] = 0
    return ids, mask


@pytest.fixture
def tiny():
    return tiny_model


def saved_tiny_model(arch: str, folder):
    """``tiny_model(arch)`` saved as a model folder with the embedded MiniLM tokenizer (tests feed ids,
    so any tokenizer will do), to load by path as a real base model is."""
    from transformers import AutoTokenizer

    from prefixes.base_models import resolve_model_path

    tiny_model(arch).save_pretrained(folder)
    AutoTokenizer.from_pretrained(resolve_model_path("minilm")).save_pretrained(folder)
    return folder


def saved_tiny_lm(folder):
    """A tiny Llama with the embedded MiniLM tokenizer (EOS set), saved as a folder to load by path."""
    from transformers import AutoTokenizer

    from prefixes.base_models import resolve_model_path

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path("minilm"))
    tokenizer.eos_token = "[SEP]"  # the causal format needs an end-of-text token
    torch.manual_seed(0)
    config = LlamaConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=64, vocab_size=tokenizer.vocab_size, pad_token_id=0,
                         eos_token_id=tokenizer.eos_token_id)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
