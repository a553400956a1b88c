"""The soft prompt module: learned input embeddings, and how they start."""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from prefixes.methods.prompt.config import PromptConfig


class SoftPrompt(nn.Module):
    """``forward()`` returns the prompt embeddings (P, hidden)."""

    def __init__(self, config: PromptConfig, hidden_size: int):
        super().__init__()
        self.config = config
        self.embedding = nn.Parameter(torch.zeros(config.num_virtual_tokens, hidden_size))

    @property
    def length(self) -> int:
        return self.config.num_virtual_tokens

    def forward(self) -> torch.Tensor:
        return self.embedding

    @torch.no_grad()
    def initialize(self, word_embeddings: nn.Embedding, tokenizer=None) -> None:
        """Start from the configured init, in the scale of the model's own token embeddings."""
        self.embedding.copy_(initial_prompt(self.config, word_embeddings, tokenizer))


def initial_prompt(config: PromptConfig, word_embeddings: nn.Embedding, tokenizer=None) -> torch.Tensor:
    table = word_embeddings.weight.detach()
    length = config.num_virtual_tokens
    init = config.prompt_tuning_init
    if init == "random":
        # Lester et al. draw U(-0.5, 0.5) for T5, whose embeddings are that large; matching the
        # model's own embedding scale keeps the prompt comparable to real tokens on any model.
        return torch.randn(length, table.shape[1], dtype=table.dtype) * table.std()
    if init == "vocab_sample":
        return table[_vocab_sample(config, table, length)].clone()
    if tokenizer is None:
        raise ValueError(f"prompt_tuning_init={init!r} needs the base model's tokenizer: pass tokenizer=...")
    if init == "text":
        ids = tokenizer(config.prompt_tuning_init_text, add_special_tokens=False)["input_ids"]
        if not ids:
            raise ValueError("prompt_tuning_init_text tokenizes to no tokens: give a non-empty text")
        # Repeat the text's tokens to fill the prompt, then cut to length.
        index = torch.tensor(ids)[torch.arange(length) % len(ids)]
        return table[index].clone()
    # class_labels: one virtual token per label word (sub-token embeddings averaged); the rest of
    # the prompt is sampled from the vocabulary, as in the paper.
    labels = []
    for word in cast(list[str], config.class_labels):
        ids = tokenizer(word, add_special_tokens=False)["input_ids"]
        if not ids:
            raise ValueError(f"class label {word!r} tokenizes to no tokens: give a non-empty label word")
        labels.append(table[torch.tensor(ids)].mean(dim=0))
    rest = table[_vocab_sample(config, table, length - len(labels))]
    return torch.cat([torch.stack(labels), rest]).clone()


def _vocab_sample(config: PromptConfig, table: torch.Tensor, count: int) -> torch.Tensor:
    # The paper samples from the 5,000 most common tokens; in BPE/sentencepiece vocabularies
    # low ids are the frequent ones.
    upper = min(config.vocab_sample_size, table.shape[0])
    return torch.randint(0, upper, (count,))
