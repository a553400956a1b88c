"""The prefixes of one forward pass (``PrefixState``): each site's keys and values for every example
of the batch, prepended at each attention call with the mask widened once per forward."""

from __future__ import annotations

import torch
from torch import nn

from prefixes.inject.layout import PrefixLayout

_MASKS_KEPT = 8


class PrefixState:
    """The prefixes of one forward pass: keys and values per site, for each example of the batch.

    keys, values: (sites, B, kv_heads, P, head_dim). ``visible`` (B, P) marks the real virtual tokens
    of each example when prefixes of different lengths share a batch (None: all visible).
    """

    def __init__(
        self,
        site_index: dict[nn.Module, int],
        site_kinds: tuple[str, ...],
        keys: torch.Tensor,
        values: torch.Tensor,
        visible: torch.Tensor | None,
    ):
        self.site_index = site_index
        self.site_kinds = site_kinds
        self.keys = keys
        self.values = values
        self.visible = visible
        # Every self-attention site of a forward receives the same mask object, so the widened mask
        # is built once and shared: SDPA keeps its mask for the backward pass, and one copy per
        # layer is what a prefix cost over the bare model in step memory.
        self._widened: list[tuple[tuple, torch.Tensor]] = []

    def extend(self, module, query, key, value, attention_mask, kwargs):
        site = self.site_index[module]
        batch, query_len, key_len = key.shape[0], query.shape[2], key.shape[2]
        prefix_keys = expand_batch(self.keys[site], batch).to(key.dtype)
        prefix_values = expand_batch(self.values[site], batch).to(value.dtype)
        prefix_len = prefix_keys.shape[2]

        causal = self._is_causal(site, module, query_len, kwargs)
        attention_mask = self._widened_mask(attention_mask, batch, prefix_len, query_len, key_len, causal, query.dtype)
        if kwargs.get("position_bias") is not None:
            # Relative-position models (T5): virtual tokens carry no position, so zero bias.
            bias = kwargs["position_bias"]
            kwargs = {**kwargs, "position_bias": nn.functional.pad(bias, (prefix_len, 0))}
        key = torch.cat([prefix_keys, key], dim=2)  # (B, kv_heads, P + S, head_dim)
        value = torch.cat([prefix_values, value], dim=2)
        return key, value, attention_mask, kwargs

    def _widened_mask(self, mask, batch, prefix_len, query_len, key_len, causal, dtype):
        """The mask with the prefix columns in front, built once per distinct input mask and shape."""
        signature = (batch, prefix_len, query_len, key_len, causal, dtype)
        for (seen_mask, seen_signature), widened in self._widened:
            if seen_mask is mask and seen_signature == signature:
                return widened
        if self.visible is None:
            visible = torch.ones(1, 1, 1, prefix_len, dtype=torch.bool, device=self.keys.device)
        else:
            visible = expand_batch(self.visible, batch)[:, None, None, :]
        # An explicit mask is always passed once a prefix is present, so SDPA never takes its
        # `is_causal` shortcut, whose diagonal would be misaligned by the prefix columns.
        widened = _widen_mask(mask, visible, batch, query_len, key_len, causal, dtype)
        # A forward has at most three kinds of site (encoder, decoder, cross); decoding steps that
        # share one state each bring new masks, so older entries are dropped.
        self._widened = [*self._widened[-(_MASKS_KEPT - 1) :], ((mask, signature), widened)]
        return widened

    def _is_causal(self, site: int, module, query_len: int, kwargs) -> bool:
        if self.site_kinds[site] == "cross" or query_len == 1:
            return False
        is_causal = kwargs.get("is_causal")
        return bool(getattr(module, "is_causal", True) if is_causal is None else is_causal)


def expand_batch(tensor: torch.Tensor, batch: int) -> torch.Tensor:
    """Match a per-example tensor to the attention batch; beam search repeats each example in place."""
    if tensor.shape[0] == batch:
        return tensor
    if tensor.shape[0] == 1:
        return tensor.expand(batch, *tensor.shape[1:])
    return tensor.repeat_interleave(batch // tensor.shape[0], dim=0)


def _widen_mask(mask, visible, batch, query_len, key_len, causal, dtype):
    """Prepend the prefix columns to a (B, 1|H, T, S) mask; build the real-token part if absent."""
    if mask is None:
        allowed = torch.ones(query_len, key_len, dtype=torch.bool, device=visible.device)
        if causal:
            allowed = allowed.tril(diagonal=key_len - query_len)
        # Additive, as eager attention functions (T5's) add the mask to the scores; SDPA takes it too.
        mask = torch.zeros(allowed.shape, dtype=dtype, device=visible.device).masked_fill(~allowed, torch.finfo(dtype).min)
        mask = mask[None, None]
    heads = mask.shape[1]
    # A mask shared by the whole batch stays one row: attention broadcasts it, with B times less memory.
    rows = 1 if mask.shape[0] == 1 and visible.shape[0] == 1 else batch
    prefix_cols = visible.expand(rows, heads, query_len, visible.shape[-1])
    if mask.dtype != torch.bool:  # additive float mask
        prefix_cols = torch.zeros(prefix_cols.shape, dtype=mask.dtype, device=mask.device).masked_fill(
            ~prefix_cols, torch.finfo(mask.dtype).min
        )
    return torch.cat([prefix_cols, mask.expand(rows, heads, query_len, key_len)], dim=-1)


def build_state(
    layout: PrefixLayout,
    site_index: dict[nn.Module, int],
    prefixes: list[torch.Tensor],
    example_prefix: torch.Tensor | None,
) -> PrefixState:
    """Assemble one forward's state from each task's prefix (P_t, sites, 2, kv_heads, head_dim).

    ``example_prefix`` (B,) picks a prefix per example; None means the single prefix for all, which
    is broadcast without a copy.
    """
    if example_prefix is None:
        if len(prefixes) != 1:
            raise ValueError(f"{len(prefixes)} prefixes but no per-example task index to choose between them")
        # (P, sites, 2, kv, D) -> (sites, 2, 1, kv, P, D)
        kv = prefixes[0].permute(1, 2, 3, 0, 4).unsqueeze(2)
        return PrefixState(site_index, layout.site_kinds, kv[:, 0], kv[:, 1], None)
    lengths = torch.tensor([p.shape[0] for p in prefixes], device=example_prefix.device)
    longest = int(lengths.max())
    bank = torch.stack([nn.functional.pad(p, (0, 0, 0, 0, 0, 0, 0, 0, 0, longest - p.shape[0])) for p in prefixes])
    per_example = bank[example_prefix]  # (B, P, sites, 2, kv, D)
    kv = per_example.permute(2, 3, 0, 4, 1, 5)  # (sites, 2, B, kv, P, D)
    visible = None
    if bool((lengths != longest).any()):
        visible = torch.arange(longest, device=lengths.device)[None] < lengths[example_prefix][:, None]
    return PrefixState(site_index, layout.site_kinds, kv[:, 0], kv[:, 1], visible)
