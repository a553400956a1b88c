"""Prefix-aware attention that wraps, rather than replaces, the model's own attention implementation.

transformers 5 selects each layer's attention function with
``ALL_ATTENTION_FUNCTIONS.get_interface(config._attn_implementation, eager_attention_forward)``, where
the default is the modelling file's own eager function (Gemma2's applies logit soft-capping there).
For the implementation a model was configured with (``eager`` or ``sdpa``), we
register ``prefixes_<implementation>``: it prepends the call's prefix keys/values (see
``PrefixState.extend``) and then calls that same implementation with the call's own keyword
arguments, so scaling, soft-capping, dropout and windows stay the model's. Masks are built by the
wrapped implementation's own mask function; the prefix columns are added per call.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

from torch import nn
from transformers import AttentionInterface, PreTrainedModel
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface, eager_mask, sdpa_mask
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

WRAPPED = "prefixes_"


def wrapped_name(implementation: str) -> str:
    return WRAPPED + implementation


def inner_implementation(model: PreTrainedModel) -> str:
    """The implementation the model computes attention with, seen through our wrapper if present."""
    return model.config._attn_implementation.removeprefix(WRAPPED)


def use_prefix_attention(model: PreTrainedModel) -> str:
    """Route every attention call of the model through the wrapper of its configured implementation."""
    inner = inner_implementation(model)
    # The prefix columns are prepended to a 4-D mask (or one built when absent). Flash attention's
    # 2-D padding masks and flex attention's block masks would need their own widening, and flash
    # would slide its window over the prefix too: refused rather than approximated.
    if ALL_MASK_ATTENTION_FUNCTIONS._global_mapping.get(inner) not in (sdpa_mask, eager_mask):
        raise ValueError(
            f"{type(model).__name__} is configured with attn_implementation={inner!r}, which prefix tuning does not "
            "wrap; load the model with attn_implementation='sdpa' or 'eager'"
        )
    name = wrapped_name(inner)
    if name not in ALL_ATTENTION_FUNCTIONS:
        AttentionInterface.register(name, _wrapper(inner))
        AttentionMaskInterface.register(name, ALL_MASK_ATTENTION_FUNCTIONS[inner])
    model.set_attn_implementation(name)
    return inner


def restore_attention(model: PreTrainedModel, implementation: str) -> None:
    model.set_attn_implementation(implementation)


def _wrapper(inner: str) -> Callable:
    def attention_with_prefix(module, query, key, value, attention_mask, prefix_state=None, **kwargs):
        if prefix_state is not None:
            key, value, attention_mask, kwargs = prefix_state.extend(module, query, key, value, attention_mask, kwargs)
        function = _module_eager(type(module)) if inner == "eager" else ALL_ATTENTION_FUNCTIONS[inner]
        return function(module, query, key, value, attention_mask, **kwargs)

    attention_with_prefix.__name__ = f"{wrapped_name(inner)}_attention"
    return attention_with_prefix


@functools.cache
def _module_eager(module_class: type[nn.Module]) -> Callable:
    """The eager function the attention module's forward falls back to (its modelling file's own).

    Found as the global ``*eager_attention_forward`` name the forward's code refers to, so a model
    with its own eager attention (soft-capping, sinks, ...) keeps it.
    """
    forward = inspect.unwrap(module_class.forward)
    names = {name for name in forward.__code__.co_names if name.endswith("eager_attention_forward")}
    functions = [forward.__globals__[name] for name in sorted(names) if callable(forward.__globals__.get(name))]
    if len(functions) != 1:
        raise TypeError(
            f"cannot tell which eager attention {module_class.__name__}.forward calls ({sorted(names) or 'none'}); "
            "load the model with attn_implementation='sdpa'"
        )
    return functions[0]
