"""The one place where prefixes meet a transformers model.

transformers 5 routes every attention layer of every architecture through
``ALL_ATTENTION_FUNCTIONS[config._attn_implementation]``. We register one implementation,
``prefixes_sdpa``, that prepends the layer's prefix keys/values, widens the mask, and then calls the
stock SDPA attention. The prefixes of one forward pass travel in a :class:`PrefixState` passed as
the ``prefix_state`` keyword argument, which transformers forwards through its ``**kwargs``
plumbing down to each attention call. Consequences:

- nothing derived from trainable parameters is stored on a module between forwards;
- gradient checkpointing recomputes a layer with the very same state (the kwargs are re-bound);
- generation's KV cache holds real tokens only, so cached and uncached decoding agree;
- every example in a batch may carry its own prefix, of its own length.

Prefix keys are stored post-projection (and, for rotary models, post-rotation) like a KV cache,
sized ``num_key_value_heads * head_dim`` per site, measured from the model rather than guessed.
"""

from __future__ import annotations

import contextlib
import inspect
from dataclasses import asdict, dataclass
from typing import Iterator, Literal

import torch
from torch import nn
from transformers import AttentionInterface, PreTrainedModel
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

ATTENTION_IMPLEMENTATION = "prefixes_sdpa"


def _attention_with_prefix(module, query, key, value, attention_mask, prefix_state=None, **kwargs):
    if prefix_state is not None:
        key, value, attention_mask, kwargs = prefix_state.extend(module, query, key, value, attention_mask, kwargs)
    return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)


AttentionInterface.register(ATTENTION_IMPLEMENTATION, _attention_with_prefix)
# Masks are built exactly as for stock SDPA; the prefix columns are added per call.
AttentionMaskInterface.register(ATTENTION_IMPLEMENTATION, sdpa_mask)


@dataclass(frozen=True)
class PrefixLayout:
    """Where prefixes go in one model: one site per attention call, in call order."""

    site_kinds: tuple[Literal["self", "cross"], ...]
    num_kv_heads: int
    head_dim: int

    @property
    def num_sites(self) -> int:
        return len(self.site_kinds)

    @property
    def site_width(self) -> int:
        """Numbers per virtual token for one site: key and value."""
        return 2 * self.num_kv_heads * self.head_dim

    def to_dict(self) -> dict:
        return {**asdict(self), "site_kinds": list(self.site_kinds)}

    @classmethod
    def from_dict(cls, data: dict) -> PrefixLayout:
        return cls(tuple(data["site_kinds"]), int(data["num_kv_heads"]), int(data["head_dim"]))


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

    def extend(self, module, query, key, value, attention_mask, kwargs):
        site = self.site_index[module]
        batch, query_len, key_len = key.shape[0], query.shape[2], key.shape[2]
        prefix_keys = _expand_batch(self.keys[site], batch).to(key.dtype)
        prefix_values = _expand_batch(self.values[site], batch).to(value.dtype)
        prefix_len = prefix_keys.shape[2]

        if self.visible is None:
            visible = torch.ones(1, 1, 1, prefix_len, dtype=torch.bool, device=key.device)
        else:
            visible = _expand_batch(self.visible, batch)[:, None, None, :]
        # An explicit mask is always passed once a prefix is present, so SDPA never takes its
        # `is_causal` shortcut, whose diagonal would be misaligned by the prefix columns.
        attention_mask = _widen_mask(attention_mask, visible, batch, query_len, key_len, self._is_causal(site, module, query_len, kwargs))
        if kwargs.get("position_bias") is not None:
            # Relative-position models (T5): virtual tokens carry no position, so zero bias.
            bias = kwargs["position_bias"]
            kwargs = {**kwargs, "position_bias": nn.functional.pad(bias, (prefix_len, 0))}
        key = torch.cat([prefix_keys, key], dim=2)  # (B, kv_heads, P + S, head_dim)
        value = torch.cat([prefix_values, value], dim=2)
        return key, value, attention_mask, kwargs

    def _is_causal(self, site: int, module, query_len: int, kwargs) -> bool:
        if self.site_kinds[site] == "cross" or query_len == 1:
            return False
        is_causal = kwargs.get("is_causal")
        return bool(getattr(module, "is_causal", True) if is_causal is None else is_causal)


def _expand_batch(tensor: torch.Tensor, batch: int) -> torch.Tensor:
    """Match a per-example tensor to the attention batch; beam search repeats each example in place."""
    if tensor.shape[0] == batch:
        return tensor
    if tensor.shape[0] == 1:
        return tensor.expand(batch, *tensor.shape[1:])
    return tensor.repeat_interleave(batch // tensor.shape[0], dim=0)


def _widen_mask(mask, visible, batch, query_len, key_len, causal):
    """Prepend the prefix columns to a (B, 1|H, T, S) mask; build the real-token part if absent."""
    if mask is None:
        mask = torch.ones(query_len, key_len, dtype=torch.bool, device=visible.device)
        if causal:
            mask = mask.tril(diagonal=key_len - query_len)
        mask = mask[None, None]
    heads = mask.shape[1]
    prefix_cols = visible.expand(batch, heads, query_len, visible.shape[-1])
    if mask.dtype != torch.bool:  # additive float mask
        prefix_cols = torch.zeros(prefix_cols.shape, dtype=mask.dtype, device=mask.device).masked_fill(
            ~prefix_cols, torch.finfo(mask.dtype).min
        )
    return torch.cat([prefix_cols, mask.expand(batch, heads, query_len, key_len)], dim=-1)


class _Recorder:
    """A stand-in state that records each attention call instead of changing it."""

    def __init__(self):
        self.calls: list[tuple[nn.Module, torch.Tensor, torch.Tensor, int]] = []

    def extend(self, module, query, key, value, attention_mask, kwargs):
        self.calls.append((module, key.detach(), value.detach(), query.shape[2]))
        return key, value, attention_mask, kwargs


def use_prefix_attention(model: PreTrainedModel) -> None:
    """Route every attention layer of the model through the prefix-aware implementation."""
    model.set_attn_implementation(ATTENTION_IMPLEMENTATION)


def probe_inputs(model: PreTrainedModel, source_len: int, target_len: int) -> dict:
    vocab = model.config.get_text_config().vocab_size
    inputs = {"input_ids": (torch.arange(source_len) % (vocab - 3) + 3)[None]}
    if model.config.is_encoder_decoder:
        # Different source and target lengths tell cross-attention (query != key length) apart.
        inputs["decoder_input_ids"] = (torch.arange(target_len) % (vocab - 3) + 3)[None]
    return inputs


def record_attention(model: PreTrainedModel, inputs: dict) -> list[tuple[nn.Module, torch.Tensor, torch.Tensor, int]]:
    """Run one forward and return (module, key, value, query_len) for every attention call, in order."""
    recorder = _Recorder()
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(**inputs, prefix_state=recorder)
    finally:
        model.train(was_training)
    return recorder.calls


def discover_layout(model: PreTrainedModel) -> tuple[PrefixLayout, dict[nn.Module, int]]:
    """Find the model's attention sites by tracing one tiny forward; size prefixes from what they see."""
    calls = record_attention(model, probe_inputs(model, source_len=7, target_len=3))
    if not calls:
        raise TypeError(
            f"{type(model).__name__} made no call through the transformers attention interface; "
            "prefix tuning needs a model whose attention uses ALL_ATTENTION_FUNCTIONS (transformers >= 5)"
        )
    site_index: dict[nn.Module, int] = {}
    kinds: list[str] = []
    shapes = set()
    for module, key, _, query_len in calls:
        if module in site_index:
            raise TypeError(f"attention module {type(module).__name__} ran twice in one forward; unsupported")
        site_index[module] = len(kinds)
        kinds.append("cross" if key.shape[2] != query_len else "self")
        shapes.add((key.shape[1], key.shape[3]))
    if len(shapes) != 1:
        raise TypeError(f"attention sites differ in (kv_heads, head_dim): {sorted(shapes)}; unsupported")
    (num_kv_heads, head_dim), = shapes
    return PrefixLayout(tuple(kinds), num_kv_heads, head_dim), site_index


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


@contextlib.contextmanager
def prefixes_attached(model: PreTrainedModel, state: PrefixState | None, offsets: torch.Tensor | None) -> Iterator[None]:
    """While inside, every call of the model carries ``state`` and positions real tokens after the prefix.

    A forward pre-hook adds ``prefix_state`` to the call's keyword arguments, so it reaches
    generation's every step too (and the encoder, which generation calls on its own). Positions
    are shifted by each example's prefix length (``offsets``), as a prefilled cache would shift
    them, for models that take ``position_ids`` (absolute or rotary). Encoder-decoder models keep
    their positions: T5's relative bias gives virtual tokens zero bias.
    """
    shifts_positions = (
        offsets is not None
        and not model.config.is_encoder_decoder
        and "position_ids" in inspect.signature(model.forward).parameters
    )
    padding_idx = _position_padding_idx(model) if shifts_positions else None

    def attach(_module, args, kwargs):
        if state is not None:
            kwargs["prefix_state"] = state
        if shifts_positions:
            kwargs["position_ids"] = _shifted_positions(kwargs, offsets, padding_idx)
        return args, kwargs

    modules = [model]
    if model.config.is_encoder_decoder:
        modules.append(model.get_encoder())
    handles = [module.register_forward_pre_hook(attach, with_kwargs=True) for module in modules]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _position_padding_idx(model: PreTrainedModel) -> int | None:
    """RoBERTa-style embeddings number positions from padding_idx + 1 and give pads padding_idx."""
    for module in model.modules():
        if hasattr(module, "position_embeddings") and isinstance(getattr(module, "padding_idx", None), int):
            return module.padding_idx
    return None


def _shifted_positions(kwargs: dict, offsets: torch.Tensor, padding_idx: int | None) -> torch.Tensor:
    tokens = kwargs.get("input_ids") if kwargs.get("input_ids") is not None else kwargs["inputs_embeds"]
    batch, length = tokens.shape[0], tokens.shape[1]
    offsets = _expand_batch(offsets, batch)[:, None]
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
