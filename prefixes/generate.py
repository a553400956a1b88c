"""Batched, left-padded generation from token prompts: the one path evaluation and serving share.

Decoder-only prompts of different lengths are padded on the left, so every prompt ends where
generation starts; encoder inputs on the right, where encoders with absolute positions (BART)
number them as they would alone. They are generated in batches through the model's own ``generate`` (any wrapper: prefix and
prompt tuning with a per-example ``task_ids``, the full fine-tuning and LoRA baselines). Each
answer is cut after its first end-of-sequence token: a row that finished early in a batch is
padded until the batch finishes, and alone it would have stopped there.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from prefixes.data.formats import collate


def generate_batched(
    model,
    prompts: Sequence[list[int]],
    *,
    pad_token_id: int,
    batch_size: int,
    task_ids: Sequence[int] | None = None,
    **generation,
) -> list[list[int]]:
    """The generated tokens of each prompt, in order (``num_return_sequences`` rows per prompt).

    Decoder-only models return only the new tokens; encoder-decoder models the decoder output as
    ``generate`` gives it (its start token included). ``generation`` goes to ``generate`` as is.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: generate at least one prompt per batch (batch_size >= 1)")
    if task_ids is not None and len(task_ids) != len(prompts):
        raise ValueError(f"task_ids has {len(task_ids)} entries for {len(prompts)} prompts: give one task per prompt")
    base = model.base_model
    decoder_only = not base.config.is_encoder_decoder
    eos = _eos_ids(generation.get("eos_token_id", base.generation_config.eos_token_id))
    device = next(base.parameters()).device
    answers: list[list[int]] = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        features = [{"input_ids": list(ids), "attention_mask": [1] * len(ids)} for ids in chunk]
        padded = collate(features, pad_token_id, padding_side="left" if decoder_only else "right")
        batch = {key: value.to(device) for key, value in padded.items()}
        if task_ids is not None:
            batch["task_ids"] = torch.tensor(task_ids[start : start + batch_size], dtype=torch.long, device=device)
        output = model.generate(**batch, pad_token_id=pad_token_id, **generation)
        sequences = output if isinstance(output, torch.Tensor) else output.sequences
        if decoder_only:
            sequences = sequences[:, batch["input_ids"].shape[1] :]
        answers += [_until_eos(row, eos, skip_first=not decoder_only) for row in sequences.tolist()]
    return answers


def _eos_ids(eos) -> set[int]:
    if eos is None:
        return set()
    return set(eos) if isinstance(eos, (list, tuple)) else {int(eos)}


def _until_eos(tokens: list[int], eos: set[int], skip_first: bool) -> list[int]:
    """Tokens up to and including the first end-of-sequence token (a decoder's start token aside)."""
    for index in range(1 if skip_first else 0, len(tokens)):
        if tokens[index] in eos:
            return tokens[: index + 1]
    return tokens
