"""The order of one training epoch: shuffled, or grouped by length so a batch carries little padding.

Either order is a pure function of (seed, epoch, example lengths), so resuming mid-epoch needs no
sampler state. The loader cuts the order into consecutive batches of ``batch_size`` and accelerate
deals whole batches to the processes in turn, so every example still comes once per epoch. Groups
are global batches (``batch_size`` x processes): the processes' batches of one step come from one
group, and N processes of batch b see the same steps as one process of batch N x b.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.utils.data import DataLoader, Subset

MEGA_BATCH_BATCHES = 50
"""Batches per mega-batch: the pool sorted by length. Larger pools pad less but mix the data less."""


def example_length(feature: dict) -> int:
    """Tokens in an example's ``input_ids``; a multiple-choice example counts its longest choice,
    the width its choices are padded to."""
    ids = feature["input_ids"]
    if ids and isinstance(ids[0], list):
        return max(len(row) for row in ids)
    return len(ids)


def example_lengths(dataset) -> list[int]:
    return [example_length(dataset[index]) for index in range(len(dataset))]


def length_grouped_order(lengths: Sequence[int], batch_size: int, generator: torch.Generator,
                         mega_batch_batches: int = MEGA_BATCH_BATCHES) -> list[int]:
    """Shuffle, sort each mega-batch of ``mega_batch_batches`` batches longest first, cut it into
    batches and shuffle the batches. A short last batch stays last: a short batch anywhere else
    would shift every later batch's boundary when the loader cuts the order."""
    if batch_size < 1 or mega_batch_batches < 1:
        raise ValueError(f"batch_size={batch_size}, mega_batch_batches={mega_batch_batches}: both must be at least 1")
    shuffled = torch.randperm(len(lengths), generator=generator).tolist()
    pool = batch_size * mega_batch_batches  # a multiple of batch_size: only the very last batch can be short
    grouped: list[int] = []
    for start in range(0, len(shuffled), pool):
        # sorted() is stable: examples of equal length keep their shuffled order.
        grouped += sorted(shuffled[start:start + pool], key=lambda index: lengths[index], reverse=True)
    batches = [grouped[start:start + batch_size] for start in range(0, len(grouped), batch_size)]
    short = [batches.pop()] if batches and len(batches[-1]) < batch_size else []
    batch_order = torch.randperm(len(batches), generator=generator).tolist()
    return [index for batch in [batches[i] for i in batch_order] + short for index in batch]


def epoch_loader(dataset, *, batch_size: int, seed: int, epoch: int, collate_fn: Callable,
                 lengths: Sequence[int] | None = None, processes: int = 1) -> DataLoader:
    """The epoch's loader of per-process batches: shuffled, or grouped by ``lengths`` when given,
    in global batches of ``batch_size * processes`` (see ``length_grouped_order``)."""
    generator = torch.Generator().manual_seed(seed + epoch)
    if lengths is None:
        order = torch.randperm(len(dataset), generator=generator).tolist()
    else:
        order = length_grouped_order(lengths, batch_size * processes, generator)
    # Its own generator keeps the loader from drawing its base seed from the global RNG,
    # which would shift dropout masks after a resume restarts the epoch's iterator.
    return DataLoader(Subset(dataset, order), batch_size=batch_size, collate_fn=collate_fn, generator=generator)
