"""The prefix as a prefilled KV cache, for models whose attention our keyword does not reach.

BLOOM and Falcon compute attention inside their own modules, and StableLM's layers do not pass
keyword arguments on to the attention interface, so a per-call ``prefix_state`` never arrives.
Their attention does read the KV cache, though: each call's prefix goes into a cache of the
model's own class before the real tokens, and the 2-D attention mask gains the prefix columns
(masked slots where a shorter prefix shares a batch with a longer one). Keys then sit where PEFT
puts them, ALiBi counts real tokens' positions after the prefix from that mask, and gradient flows
from the cached keys/values into the prefix.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable

import torch
from transformers import PreTrainedModel

from prefixes.inject.state import PrefixState, expand_batch

# Caches that hold a prefix at their start: generation's later steps reuse the cache it prefilled.
_PREFILLED: weakref.WeakSet = weakref.WeakSet()


def enter_cache(model: PreTrainedModel, state: PrefixState, cache_class: type, kwargs: dict, shift: Callable) -> dict:
    """Rewrite one model call's kwargs: a prefilled cache, positions after the prefix, a widened mask."""
    if model.training and getattr(model, "is_activation_checkpointing", False):
        raise ValueError(
            f"{type(model).__name__} takes prefixes through its KV cache, which gradient checkpointing would fill "
            "twice per layer; train it with gradient_checkpointing off"
        )
    # transformers 5.24 renamed past_key_values to cache; use the caller's spelling, else the model's.
    takes_cache = "cache" in inspect.signature(model.forward).parameters
    name = "past_key_values" if "past_key_values" in kwargs or not takes_cache else "cache"
    cache = kwargs.get(name)
    tokens = kwargs["input_ids"] if kwargs.get("input_ids") is not None else kwargs["inputs_embeds"]
    batch, length = tokens.shape[0], tokens.shape[1]
    prefix_len = state.keys.shape[3]
    if cache is None:
        cache = cache_class(config=model.config)
    if cache.get_seq_length() == 0:
        prefill(cache, state, batch, model.dtype)
    elif cache not in _PREFILLED:
        raise ValueError(
            f"a cache passed to prefixed {type(model).__name__} must come from a prefixed call: its prefix is missing"
        )
    kwargs[name] = cache
    mask = kwargs.get("attention_mask")
    past = cache.get_seq_length() - prefix_len  # real tokens already cached
    if mask is None:
        mask = torch.ones(batch, past + length, dtype=torch.long, device=tokens.device)
    if mask.dim() != 2:
        raise ValueError(f"{type(model).__name__} takes prefixes through its KV cache, which needs a 2-D attention_mask")
    kwargs["attention_mask"] = mask
    kwargs = shift(kwargs)
    kwargs["attention_mask"] = with_prefix_columns(state, mask)  # (B, P + past + S)
    return kwargs


def prefill(cache, state: PrefixState, rows: int, dtype: torch.dtype) -> None:
    """Each site's prefix (rows, kv_heads, P, D) into cache layer ``site``, as if P tokens had run.

    Both routes through a cache use it: a model reached through its cache, and generation that
    writes the prefix once ahead of the prompt (``prefixes.inject.generate``)."""
    for site in range(state.keys.shape[0]):
        keys = expand_batch(state.keys[site], rows).to(dtype).contiguous()
        values = expand_batch(state.values[site], rows).to(dtype).contiguous()
        cache.update(keys, values, site)
    _PREFILLED.add(cache)


def with_prefix_columns(state: PrefixState, mask: torch.Tensor) -> torch.Tensor:
    """A 2-D (B, S) attention mask with the prefix columns in front: (B, P + S); the masked slots
    of a shorter prefix in a mixed-task batch are zeros."""
    batch, prefix_len = mask.shape[0], state.keys.shape[3]
    visible = torch.ones(batch, prefix_len, dtype=mask.dtype, device=mask.device)
    if state.visible is not None:
        visible = expand_batch(state.visible, batch).to(mask.dtype)
    return torch.cat([visible, mask], dim=1)


def leave_cache(kwargs: dict, output):
    """A call made with use_cache=False returns no cache: ours only carried the prefix, and generation
    would feed it back into the next step, prefix and tokens included, as if it were a real past."""
    if kwargs.get("use_cache") is False and isinstance(output, dict):
        for name in ("cache", "past_key_values"):
            if output.get(name) is not None:
                output[name] = None
    return output
