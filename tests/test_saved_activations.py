"""What a prefix adds to a training step's memory: the tensors autograd keeps for the backward pass.

Peak RSS is too noisy to compare in a test (tens of MiB between identical runs); the bytes autograd
saves are exact. Every layer's attention keeps its mask for the backward pass, so a prefix model
that widened the mask separately in each layer kept one copy per layer; PEFT keeps one in all.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

# bench/ is a folder of scripts beside the package, not installed: import it from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.memory import saved_for_backward  # noqa: E402
from bench.sides import build, train_step  # noqa: E402
from bench.workloads import Workload  # noqa: E402

WORKLOAD = Workload(model="tiny", batch=8, seq=64)


def saved_activation_bytes(side: str) -> int:
    step, model = train_step(side, WORKLOAD, with_model=True)
    return saved_for_backward(step, model)


@pytest.mark.parametrize("method", ["prefix", "flat"])
def test_a_prefix_saves_less_for_backward_than_peft(method):
    ours, peft = saved_activation_bytes(f"ours_{method}"), saved_activation_bytes(f"peft_{method}")
    assert ours < peft, f"{method}: ours saves {ours:,} bytes for backward, PEFT {peft:,}"


def test_every_layer_shares_one_widened_mask(monkeypatch):
    model = build("ours_flat", WORKLOAD)  # built first: building traces the attention sites with a forward
    masks = []
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def recording_sdpa(*args, attn_mask=None, **kwargs):
        masks.append(attn_mask)
        return sdpa(*args, attn_mask=attn_mask, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", recording_sdpa)
    model(**WORKLOAD.inputs())
    assert len(masks) == model.base_model.config.num_hidden_layers
    assert all(mask is masks[0] for mask in masks)
    # No padding: one row serves the whole batch (attention broadcasts it).
    assert masks[0].shape == (1, 1, WORKLOAD.seq, WORKLOAD.prefix + WORKLOAD.seq)
