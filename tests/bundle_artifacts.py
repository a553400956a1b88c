"""Saved adapters for the bundle and serving tests: trained-looking, reproducible, on tiny models."""

from __future__ import annotations

import torch


def perturbed(model, seed: int):
    """Move every trainable tensor (prefix and head) away from its initialisation, reproducibly."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.add_(torch.randn(param.shape, generator=generator) * 0.5)
    return model


def saved(wrapper, seed: int, directory):
    """``wrapper`` perturbed with ``seed`` and saved to ``directory``; returns the directory."""
    perturbed(wrapper, seed).save_pretrained(directory)
    return directory
