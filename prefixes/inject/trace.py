"""Where a model's prefixes go, found by tracing one tiny forward.

One forward records both the attention calls that receive our ``prefix_state`` keyword (through
the wrapper of ``prefixes.inject.wrap``) and, for decoder-only models, the KV cache the model fills. When
the calls cover every cache layer, prefixes are prepended per attention call (``attention``);
otherwise the model's layers do not pass our keyword on to their attention (BLOOM, Falcon and
StableLM in transformers 5.24), and prefixes enter through the cache (``cache``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn
from transformers import PreTrainedModel

from prefixes.inject.layout import Attachment, Mechanism, PrefixLayout
from prefixes.inject.wrap import restore_attention, use_prefix_attention


@dataclass(frozen=True)
class Call:
    """One attention site seen by the trace: key/value (1, kv_heads, T, D) as the attention sees them."""

    module: nn.Module | None  # None for a cache layer
    key: torch.Tensor
    value: torch.Tensor
    query_len: int
    window: int | None  # the site's sliding window, None for full attention


class _Recorder:
    """A stand-in state that records each attention call instead of changing it."""

    def __init__(self):
        self.calls: list[Call] = []

    def extend(self, module, query, key, value, attention_mask, kwargs):
        window = kwargs.get("sliding_window")
        self.calls.append(Call(module, key.detach(), value.detach(), query.shape[2], window))
        return key, value, attention_mask, kwargs


def probe_inputs(model: PreTrainedModel, source_len: int, target_len: int) -> dict:
    vocab = model.config.get_text_config().vocab_size
    inputs = {"input_ids": (torch.arange(source_len) % (vocab - 3) + 3)[None]}
    if model.config.is_encoder_decoder:
        # Different source and target lengths tell cross-attention (query != key length) apart.
        inputs["decoder_input_ids"] = (torch.arange(target_len) % (vocab - 3) + 3)[None]
    return inputs


def _run(model: PreTrainedModel, inputs: dict, **extra):
    if type(model).__name__.endswith("ForMultipleChoice"):
        # Multiple-choice heads read (batch, choices, T) and flatten it: the probe is one choice.
        inputs = {name: tensor[:, None] for name, tensor in inputs.items()}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(**inputs, **extra)
    finally:
        model.train(was_training)


def _output_cache(output):
    # transformers 5.24 says "cache", earlier versions "past_key_values"; only the names the output
    # holds are read, since asking 5.24 for the old name logs a deprecation warning at our users.
    present = set(output.keys())
    return next((output[name] for name in ("cache", "past_key_values") if name in present), None)


def _cache_calls(cache) -> list[Call]:
    calls = []
    for layer in getattr(cache, "layers", ()):
        if getattr(layer, "keys", None) is not None:
            calls.append(Call(None, layer.keys, layer.values, layer.keys.shape[2], getattr(layer, "sliding_window", None)))
    return calls


def _trace(model: PreTrainedModel, inputs: dict, wrapped: bool) -> tuple[Mechanism, list[Call], type | None]:
    recorder = _Recorder()
    extra: dict[str, Any] = {"prefix_state": recorder} if wrapped else {}
    if not model.config.is_encoder_decoder:
        extra["use_cache"] = True
    output = _run(model, inputs, **extra)
    cache = None if model.config.is_encoder_decoder else _output_cache(output)
    cache_calls = _cache_calls(cache)
    if recorder.calls and len(recorder.calls) >= len(cache_calls):
        return "attention", recorder.calls, None
    return "cache", cache_calls, type(cache)


def record_attention(model: PreTrainedModel, inputs: dict, mechanism: Mechanism) -> list[Call]:
    """Run one forward and return every site's call, in site order, as ``mechanism`` reaches it."""
    if mechanism == "cache":
        return _cache_calls(_output_cache(_run(model, inputs, use_cache=True)))
    recorder = _Recorder()
    _run(model, inputs, prefix_state=recorder)
    return recorder.calls


def discover_layout(model: PreTrainedModel) -> tuple[PrefixLayout, Attachment]:
    """Choose the mechanism and size the prefixes from what the attention sites see."""
    inner = model.config._attn_implementation
    wrapped = type(model)._can_set_attn_implementation()
    if wrapped:
        inner = use_prefix_attention(model)
    mechanism, calls, cache_class = _trace(model, probe_inputs(model, source_len=7, target_len=3), wrapped)
    if mechanism == "cache" and wrapped:
        restore_attention(model, inner)  # the model runs exactly as configured; the cache carries the prefix
    if not calls:
        raise TypeError(
            f"{type(model).__name__} neither calls attention through the transformers attention interface nor fills "
            "a KV cache; prefix tuning cannot reach its attention (use prompt tuning instead)"
        )
    _check_cache_windows(model, mechanism, calls)
    index: dict[nn.Module, int] = {}
    kinds: list[Literal["self", "cross"]] = []
    for call in calls:
        if call.module in index:
            raise TypeError(f"attention module {type(call.module).__name__} ran twice in one forward; unsupported")
        if call.module is not None:
            index[call.module] = len(kinds)
        kinds.append("cross" if call.key.shape[2] != call.query_len else "self")
    shapes = {(call.key.shape[1], call.key.shape[3]) for call in calls}
    if len(shapes) != 1:
        raise TypeError(f"attention sites differ in (kv_heads, head_dim): {sorted(shapes)}; unsupported")
    (num_kv_heads, head_dim), = shapes
    attachment = Attachment(mechanism, index, tuple(call.window for call in calls), cache_class)
    return PrefixLayout(tuple(kinds), num_kv_heads, head_dim), attachment


def _check_cache_windows(model: PreTrainedModel, mechanism: Mechanism, calls: list[Call]) -> None:
    """A cache-carried prefix would slide out of a window, breaking the rule that it conditions every position.

    Windows show on the cache layers the model filled, or, for models that window attention inside
    their own modules (GPT-Neo's local layers), only in the config.
    """
    if mechanism != "cache":
        return
    config = model.config.get_text_config()
    declared = [getattr(config, name, None) for name in _WINDOW_SETTINGS]
    windows = sorted({call.window for call in calls if call.window is not None} | {w for w in declared if isinstance(w, int)})
    if windows:
        raise TypeError(
            f"{type(model).__name__} windows its attention (window {windows[0]}), which prefixes reach only through "
            "the KV cache, where the prefix would slide out of view; use prompt tuning"
        )


# Config settings that bound how far back a layer attends.
_WINDOW_SETTINGS = ("sliding_window", "window_size", "attention_chunk_size")
