"""What a benchmark runs on: a base model, a batch shape and a prefix length, rebuilt identically anywhere.

A ``Workload`` is plain data, so a memory subprocess can rebuild exactly the model and batch that
the timing process used. Each call of ``load()`` returns a fresh model: wrapping changes a model in
place (attention implementation, frozen weights), so sides never share one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
)

from prefixes.base_models import resolve_model_path

NUM_LABELS = 5
# Token ids are drawn below this bound, inside every vocabulary used here (tiny: 1024).
TOKEN_ID_BOUND = 1000


@dataclass(frozen=True)
class Workload:
    """``model``: "smollm2", "minilm" (the embedded models) or "tiny" (a 2-layer random Llama, for tests)."""

    model: str
    batch: int
    seq: int
    prefix: int = 20
    seed: int = 0

    @property
    def task_type(self) -> str:
        return "text_classification" if self.model == "minilm" else "text_generation"

    @property
    def tokens(self) -> int:
        return self.batch * self.seq

    def to_dict(self) -> dict:
        return asdict(self)

    def load(self) -> PreTrainedModel:
        torch.manual_seed(self.seed)  # fresh heads (MiniLM's classifier) start alike on every side
        if self.model == "tiny":
            return LlamaForCausalLM(
                LlamaConfig(
                    num_hidden_layers=2, hidden_size=64, num_attention_heads=4, num_key_value_heads=2,
                    intermediate_size=128, vocab_size=1024, pad_token_id=0,
                )
            )
        path = resolve_model_path(self.model)
        if self.task_type == "text_classification":
            return AutoModelForSequenceClassification.from_pretrained(path, num_labels=NUM_LABELS)
        return AutoModelForCausalLM.from_pretrained(path)

    def inputs(self, batch: int | None = None, seq: int | None = None) -> dict[str, torch.Tensor]:
        """A seeded training batch: token ids, a full attention mask and labels for the task."""
        batch, seq = batch or self.batch, seq or self.seq
        generator = torch.Generator().manual_seed(self.seed)
        ids = torch.randint(3, TOKEN_ID_BOUND, (batch, seq), generator=generator)  # (B, T)
        if self.task_type == "text_classification":
            labels = torch.randint(0, NUM_LABELS, (batch,), generator=generator)
        else:
            labels = ids.clone()
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
