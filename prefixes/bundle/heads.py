"""Per-task heads: each classification head layer becomes a RoutedLinear holding every task's weights."""

from __future__ import annotations

import torch
from torch import nn
from transformers import PreTrainedModel

from prefixes.bundle.manifest import BundleError


class RoutedLinear(nn.Module):
    """One head layer with every task's weights; each example goes through its own task's.

    weight: (tasks, out_max, in), bias: (tasks, out_max); a task with fewer outputs (labels) is
    zero-padded, and its extra outputs are sliced off by the caller. ``task_index`` (B,) is set by
    :meth:`MultiTaskModel.routed` for one forward only.
    """

    weight: torch.Tensor
    bias: torch.Tensor | None

    def __init__(self, weights: list[torch.Tensor], biases: list[torch.Tensor] | None):
        super().__init__()
        out_max = max(weight.shape[0] for weight in weights)
        self.register_buffer("weight", torch.stack([nn.functional.pad(w, (0, 0, 0, out_max - w.shape[0])) for w in weights]))
        bias = None if biases is None else torch.stack([nn.functional.pad(b, (0, out_max - b.shape[0])) for b in biases])
        self.register_buffer("bias", bias)
        self.task_index: torch.Tensor | None = None

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.task_index is None or self.task_index.shape[0] != hidden.shape[0]:
            raise RuntimeError("a RoutedLinear runs inside MultiTaskModel.routed(task_ids), with one task id per example")
        flat = hidden.reshape(hidden.shape[0], -1, hidden.shape[-1])  # (B, N, in)
        out = flat @ self.weight[self.task_index].transpose(1, 2)  # (B, N, out_max)
        if self.bias is not None:
            out = out + self.bias[self.task_index][:, None]
        return out.reshape(*hidden.shape[:-1], out.shape[-1])


def route_heads(base_model: PreTrainedModel, head: list[str], tensors: list[dict[str, torch.Tensor]]) -> list[RoutedLinear]:
    """Replace each head layer of ``base_model`` by a RoutedLinear holding every member's weights."""
    routed = []
    for layer in sorted({name.rpartition(".")[0] for name in head}):
        module = base_model.get_submodule(layer)
        if not isinstance(module, nn.Linear):
            raise BundleError(f"head layer {layer!r} is a {type(module).__name__}: per-task heads need Linear layers")
        weights = [t[f"head.{layer}.weight"] for t in tensors]
        if any(weight.shape[1] != module.in_features for weight in weights):
            raise BundleError(f"a member's {layer}.weight does not take the base model's {module.in_features} inputs")
        biases = None if module.bias is None else [t[f"head.{layer}.bias"] for t in tensors]
        replacement = RoutedLinear(weights, biases).to(module.weight.device, module.weight.dtype)
        parent, _, child = layer.rpartition(".")
        setattr(base_model.get_submodule(parent), child, replacement)
        routed.append(replacement)
    return routed
