"""Interpolating two adapters of one kind over one base model into a new model."""

from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path
from typing import cast

import torch
from torch import nn

from prefixes.artifact.schema import ArtifactConfig
from prefixes.artifact.weights import read_artifact
from prefixes.methods.interface import Adapter
from prefixes.methods.registry import get_method, method_of_config
from prefixes.model import DEFAULT_ADAPTER, AdaptedModel, load_adapter

Source = AdaptedModel | str | os.PathLike


def interpolate_models(first: Source, second: Source, alpha: float) -> AdaptedModel:
    """A new model whose adapter and trained head are ``alpha * first + (1 - alpha) * second``.

    ``first`` and ``second`` are saved artifact folders or loaded models (their active adapter), of
    one kind (prefix tuning / P-tuning v2 prefixes, or prompts) over the same base weights, with the
    same task type and label names. ``alpha`` weighs ``first``, as in the prefix-tuning papers'
    ``alpha * task_a + (1 - alpha) * task_b`` and ``PrefixTuningModel.add_interpolated``: alpha 1
    gives ``first`` exactly and 0 gives ``second``; the mix is taken of the folded (inference)
    tensors. The result is of ``first``'s wrapper class, holds the mix as its only adapter and
    follows ``first``'s train/eval mode (a loaded folder: eval); the inputs are unchanged.

    Adapters of different lengths are refused, not padded: a zero-padded prefix slot is not
    neutral (its zero key still draws attention weight exp(0) onto a zero value), and neither is
    a zero prompt embedding, so no padding would keep alpha 0 and 1 exact.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha={alpha} is outside [0, 1]: 1 gives the first adapter, 0 the second")
    model = _new_model(first)
    adapter = cast(Adapter, model.adapters[model.active_adapter])
    kind = method_of_config(adapter.config).kind
    with tempfile.TemporaryDirectory() as scratch:
        config, theirs = _folded_artifact(second, model, Path(scratch))
    _check_compatible(model, kind, config, second)
    ours = _folded_tensors(model, model.adapters[model.active_adapter])
    _check_shapes(ours, theirs)
    mixed = {name: alpha * ours[name] + (1.0 - alpha) * theirs[name].to(ours[name].device) for name in ours}
    folded = config.model_copy(update={"form": "folded", "method_config": adapter.config.model_dump()})
    new_adapter = model.adapter_method.adapter_from_tensors(folded, mixed)
    model._load_head(config, mixed)
    new_adapter.to(model._device()).train(model.training)
    model.adapters = nn.ModuleDict({DEFAULT_ADAPTER: new_adapter})
    model.active_adapter = DEFAULT_ADAPTER
    return model


def _new_model(source: Source) -> AdaptedModel:
    """A model of its own to put the mix in: ``source`` loaded, or a copy sharing only its tokenizer."""
    if isinstance(source, AdaptedModel):
        return copy.deepcopy(source, memo={id(source.tokenizer): source.tokenizer})
    if isinstance(source, nn.Module):
        raise ValueError(f"cannot interpolate a {type(source).__name__}: only prefix and prompt adapters interpolate")
    return load_adapter(source)


def _folded_artifact(source: Source, model: AdaptedModel, scratch: Path) -> tuple[ArtifactConfig, dict[str, torch.Tensor]]:
    """``source`` as a folded artifact's config and tensors (a model is saved to ``scratch`` first)."""
    if isinstance(source, AdaptedModel):
        source = source.save_pretrained(scratch / "second")
    elif isinstance(source, nn.Module):
        raise ValueError(f"cannot interpolate a {type(source).__name__}: only prefix and prompt adapters interpolate")
    config, tensors = read_artifact(source)
    if config.base_model.fingerprint != model.base_fingerprint():
        raise ValueError(
            f"cannot interpolate adapters trained on different base models ({model.model_name_or_path} vs "
            f"{config.base_model.name_or_path}): both need the same base weights"
        )
    if config.form == "training":
        model._check_base(config, source)
        adapter = model.adapter_method.adapter_from_tensors(config, tensors)
        tensors = {name: tensor for name, tensor in tensors.items() if name.startswith("head.")}
        tensors |= model.adapter_method.folded_tensors(adapter)
    return config, tensors


def _check_compatible(model: AdaptedModel, kind: str, config: ArtifactConfig, source: Source) -> None:
    if kind not in ("prefix", "prompt"):
        raise ValueError(f"cannot interpolate {kind} models: only prefix and prompt adapters interpolate")
    their_kind = get_method(config.method).kind
    if their_kind != kind:
        raise ValueError(
            f"cannot interpolate a {kind} adapter with the {their_kind} adapter {config.method!r} of {source}: "
            "give two adapters of one kind"
        )
    model._check_base(config, source)
    if config.task_type != model.task_type or config.label_names != model.label_names():
        raise ValueError(
            f"cannot interpolate a {model.task_type} model (labels {model.label_names()}) with {source}, a "
            f"{config.task_type} model (labels {config.label_names}): both need the same task and label names"
        )


def _folded_tensors(model: AdaptedModel, adapter: nn.Module) -> dict[str, torch.Tensor]:
    """What a folded artifact of ``model`` holds: the trained head and the folded adapter."""
    params = dict(model.base_model.named_parameters())
    head = {f"head.{name}": params[name].detach().clone() for name in model.head_names}
    return head | model.adapter_method.folded_tensors(adapter)


def _check_shapes(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> None:
    if set(ours) != set(theirs):
        raise ValueError(f"cannot interpolate: the adapters hold tensors {sorted(ours)} and {sorted(theirs)}")
    for name, tensor in ours.items():
        if tensor.shape != theirs[name].shape:
            raise ValueError(
                f"cannot interpolate {name!r} of shapes {tuple(tensor.shape)} and {tuple(theirs[name].shape)}: "
                "the adapters need the same length (prefix_length / num_virtual_tokens); retrain one to match"
            )
