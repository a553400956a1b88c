"""Generation with the prefix written once into the KV cache, ahead of the prompt.

The ``attention`` mechanism (``prefixes.inject.wrap``) concatenates every site's prefix to the keys and
values and widens the mask at every call, decoding steps included. For generation that work is
the same at every step, so here each site's prefix keys/values go into layer ``site`` of a
``DynamicCache`` before the first step, exactly where the concatenation puts them, and the 2-D
attention mask gains the prefix columns once (zeros for the masked slots of a shorter prefix in a
mixed-task batch). ``generate`` then numbers positions from that mask, so real tokens start after
their own prefix, and every step attends over the cache as over any past.

The keys, values, mask values and positions are those of the concatenating path, in the same
order, so greedy, sampled and beam-searched tokens are the same. Models this layout does not fit
keep the concatenating path (``takes_prefilled_cache`` says which): encoder-decoder models (cross
attention has no cache slot of its own for a prefix), sliding windows (a windowed cache layer
would slide the prefix out), sites that are not one per decoder layer in layer order, models
whose forward takes no ``position_ids``, and calls that bring their own cache or positions.
"""

from __future__ import annotations

import inspect
from typing import cast

import torch
from transformers import DynamicCache, GenerationMixin, PreTrainedModel

from prefixes.inject.cache import prefill, with_prefix_columns
from prefixes.inject.layout import Attachment
from prefixes.inject.state import PrefixState

# Calls that bring their own cache, cache kind, positions or embeddings: the prefilled cache
# would contradict them.
_OWN_STATE_KEYS = ("cache", "past_key_values", "cache_implementation", "position_ids", "inputs_embeds")


def takes_prefilled_cache(model: PreTrainedModel, attachment: Attachment, kwargs: dict) -> bool:
    """Whether this generate call can start from a cache holding the prefix (see the module notes)."""
    if model.config.is_encoder_decoder or attachment.mechanism != "attention":
        return False
    if kwargs.get("input_ids") is None or kwargs.get("use_cache") is False:
        return False
    if any(kwargs.get(key) is not None for key in _OWN_STATE_KEYS):
        return False
    if any(window is not None for window in attachment.windows):
        return False
    if "position_ids" not in inspect.signature(model.forward).parameters:
        return False
    layers = model.config.get_text_config().num_hidden_layers
    in_layer_order = all(getattr(module, "layer_idx", None) == site for module, site in attachment.index.items())
    return len(attachment.index) == layers and in_layer_order


def generate_with_prefilled_cache(model: PreTrainedModel, state: PrefixState, kwargs: dict):
    """``model.generate(**kwargs)`` with each example's prefix in the cache ahead of its prompt."""
    input_ids: torch.Tensor = kwargs.pop("input_ids")
    mask = kwargs.pop("attention_mask", None)
    if mask is None:
        mask = _inferred_mask(model, input_ids, kwargs)
    # generate repeats each example in place for beams / returned sequences; the cache, not a
    # tensor argument, is not repeated by it, so it is built at the repeated size.
    cache = DynamicCache(config=model.config)
    prefill(cache, state, input_ids.shape[0] * _repeats(model, kwargs), model.dtype)
    cache_name = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    # A mask longer than input_ids tells generate the cache holds what comes before the prompt.
    generator = cast(GenerationMixin, model)
    return generator.generate(input_ids=input_ids, attention_mask=with_prefix_columns(state, mask),
                              **{cache_name: cache}, **kwargs)


def _repeats(model: PreTrainedModel, kwargs: dict) -> int:
    """How many rows generate makes of each example (as its own expansion counts them)."""
    config = kwargs.get("generation_config") or model.generation_config
    beams = kwargs.get("num_beams") or config.num_beams or 1
    returned = kwargs.get("num_return_sequences") or config.num_return_sequences or 1
    return max(beams, returned)


def _inferred_mask(model: PreTrainedModel, input_ids: torch.Tensor, kwargs: dict) -> torch.Tensor:
    """The mask generate infers without one: pads masked when a pad id, distinct from EOS, occurs."""
    config = kwargs.get("generation_config") or model.generation_config
    pad = kwargs.get("pad_token_id", config.pad_token_id)
    eos = kwargs.get("eos_token_id", config.eos_token_id)
    eos_ids = set(eos) if isinstance(eos, (list, tuple)) else {eos}
    if pad is None or pad in eos_ids or not bool((input_ids == pad).any()):
        return torch.ones_like(input_ids)
    return input_ids.ne(pad).long()
