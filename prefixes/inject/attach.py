"""Attaching one forward's prefixes to a model call, and numbering real tokens after them.

A forward pre-hook on the model (and on the encoder, which generation calls on its own) puts the
prefixes into each call, so they reach every step of generation too: as the ``prefix_state``
keyword for the ``attention`` mechanism, as a prefilled cache for ``cache`` (``prefixes.inject.cache``).
Positions of real tokens are shifted by each example's prefix length (``offsets``), as a prefilled
cache would shift them, for models that take ``position_ids`` (absolute or rotary); ALiBi models
count positions from the attention mask, which the ``cache`` mechanism widens by the prefix.
Encoder-decoder models keep their positions: T5's relative bias gives virtual tokens zero bias.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from typing import cast

import torch
from transformers import PreTrainedModel

from prefixes.inject.cache import enter_cache, leave_cache
from prefixes.inject.state import PrefixState, expand_batch


@contextlib.contextmanager
def prefixes_attached(
    model: PreTrainedModel,
    state: PrefixState | None,
    offsets: torch.Tensor | None,
    mechanism: str = "attention",
    cache_class: type | None = None,
) -> Iterator[None]:
    """While inside, every call of the model carries ``state`` and positions real tokens after the prefix."""
    shifts_positions = (
        offsets is not None
        and not model.config.is_encoder_decoder
        and "position_ids" in inspect.signature(model.forward).parameters
    )
    padding_idx = _position_padding_idx(model) if shifts_positions else None

    def attach(_module, args, kwargs):
        if state is not None and mechanism == "cache":
            # Positions count the caller's real tokens, so they are shifted before the mask widens.
            kwargs = enter_cache(model, state, cache_class, kwargs, lambda kw: _shift(kw, shifts_positions, offsets, padding_idx))
            return args, kwargs
        if state is not None:
            kwargs["prefix_state"] = state
        return args, _shift(kwargs, shifts_positions, offsets, padding_idx)

    modules = [model]
    if model.config.is_encoder_decoder:
        modules.append(model.get_encoder())
    handles = [module.register_forward_pre_hook(attach, with_kwargs=True) for module in modules]
    if state is not None and mechanism == "cache":
        handles.append(model.register_forward_hook(lambda _m, _a, kwargs, out: leave_cache(kwargs, out), with_kwargs=True))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _shift(kwargs: dict, shifts_positions: bool, offsets, padding_idx) -> dict:
    if shifts_positions:
        kwargs["position_ids"] = _shifted_positions(kwargs, offsets, padding_idx)
    return kwargs


def _position_padding_idx(model: PreTrainedModel) -> int | None:
    """RoBERTa-style embeddings number positions from padding_idx + 1 and give pads padding_idx."""
    for module in model.modules():
        if hasattr(module, "position_embeddings") and isinstance(getattr(module, "padding_idx", None), int):
            return cast(int, module.padding_idx)
    return None


_CHOICE_INPUTS = ("input_ids", "inputs_embeds", "attention_mask", "position_ids")


def _shifted_positions(kwargs: dict, offsets: torch.Tensor, padding_idx: int | None) -> torch.Tensor:
    tokens: torch.Tensor = kwargs["input_ids"] if kwargs.get("input_ids") is not None else kwargs["inputs_embeds"]
    if tokens.dim() == (3 if kwargs.get("input_ids") is not None else 4):
        # Multiple choice (batch, choices, T): number each choice as the head will flatten it.
        flat = {name: kwargs[name].flatten(0, 1) for name in _CHOICE_INPUTS if kwargs.get(name) is not None}
        return _shifted_positions(kwargs | flat, offsets, padding_idx).view(*tokens.shape[:2], -1)
    batch, length = tokens.shape[0], tokens.shape[1]
    offsets = expand_batch(offsets, batch)[:, None]
    positions = kwargs.get("position_ids")
    if positions is not None:  # generation passes positions counted from its attention mask
        return positions + offsets
    mask = kwargs.get("attention_mask")
    # transformers 5.24 renamed past_key_values to cache; accept both spellings.
    cache = kwargs.get("cache") if kwargs.get("cache") is not None else kwargs.get("past_key_values")
    past = cache.get_seq_length() if cache is not None else 0
    if mask is None or mask.dim() != 2:
        positions = torch.arange(past, past + length, device=tokens.device)[None].expand(batch, length)
        if padding_idx is not None:
            positions = positions + padding_idx + 1
        return positions + offsets
    real = mask.bool()
    # Count real tokens so left padding does not push positions along (as generate does).
    counted = (real.long().cumsum(-1) - 1).clamp(min=0)[:, -length:]
    real = real[:, -length:]
    if padding_idx is not None:
        return torch.where(real, counted + padding_idx + 1 + offsets, padding_idx)
    return counted + offsets
