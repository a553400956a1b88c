"""Exported adapters load in PEFT and give PEFT logits equal to ours."""

from __future__ import annotations

import copy

import pytest
import torch
from conftest import right_padded_batch, tiny_model
from peft import PeftModel

from prefixes import PrefixConfig, PrefixTuningModel, PromptConfig, PromptTuningModel

TOLERANCE = 1e-5


def _trained_like(model) -> None:
    """Move the adapter away from its initialisation so parity is not trivially met."""
    with torch.no_grad():
        for param in model.adapters.parameters():
            param.add_(torch.randn_like(param) * 0.3)


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
@pytest.mark.parametrize(
    "make",
    [
        lambda base: PrefixTuningModel.from_model(base, PrefixConfig(prefix_length=5, prefix_hidden_size=16, prefix_dropout=0.0)),
        lambda base: PrefixTuningModel.from_model(base, PrefixConfig(prefix_length=5, reparameterization=False)),
        lambda base: PromptTuningModel.from_model(base, PromptConfig(num_virtual_tokens=5)),
    ],
    ids=["prefix_mlp", "p_tuning_v2", "prompt"],
)
def test_peft_loads_our_export_with_equal_logits(arch, make, tmp_path):
    base = tiny_model(arch)
    peft_base = copy.deepcopy(base)
    torch.manual_seed(0)
    ours = make(base).eval()
    _trained_like(ours)
    ours.export_peft(tmp_path)
    peft_model = PeftModel.from_pretrained(peft_base, tmp_path).eval()
    ids, mask = right_padded_batch()
    with torch.no_grad():
        expected = peft_model(input_ids=ids, attention_mask=mask).logits
        actual = ours(input_ids=ids, attention_mask=mask).logits
    # Prompt tuning (both libraries) also returns logits at the virtual positions; compare real tokens.
    expected, actual = expected[:, -ids.shape[1]:], actual[:, -ids.shape[1]:]
    real = mask.bool()
    difference = (actual - expected)[real].abs().max().item()
    print(f"{arch} max|diff|={difference:.2e}")
    assert difference < TOLERANCE


def test_export_refuses_what_peft_cannot_represent(tmp_path):
    model = PrefixTuningModel.from_model(tiny_model("t5"), PrefixConfig(prefix_length=2))
    with pytest.raises(ValueError, match="PEFT export supports causal language models"):
        model.export_peft(tmp_path)
