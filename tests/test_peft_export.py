"""Exported adapters load in PEFT and give PEFT logits equal to ours."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from conftest import right_padded_batch, saved_tiny_lm, tiny_model
from peft import AutoPeftModelForCausalLM, PeftModel
from transformers import AutoModelForCausalLM

from prefixes import ModelConfig, PrefixConfig, PrefixTuningModel, PromptConfig, PromptTuningModel
from prefixes.base_models import resolve_model_path

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


def _config_of(folder) -> dict:
    return json.loads((folder / "adapter_config.json").read_text())


def test_exported_adapter_names_the_hub_id_of_an_embedded_base_model_not_its_short_name(tmp_path):
    model = PrefixTuningModel.from_model(tiny_model("llama"), PrefixConfig(prefix_length=2), model_name_or_path="smollm2")
    config = _config_of(model.export_peft(tmp_path))
    assert config["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert config["revision"] is None


def test_exported_adapter_names_a_local_base_model_by_its_absolute_path_and_autopeft_loads_it(tmp_path, monkeypatch):
    saved_tiny_lm(tmp_path / "base")
    monkeypatch.chdir(tmp_path)
    ours = PrefixTuningModel(ModelConfig(model_name_or_path="base", task_type="text_generation"),
                             PrefixConfig(prefix_length=3, prefix_hidden_size=16))
    _trained_like(ours)
    config = _config_of(ours.export_peft(tmp_path / "peft"))
    assert config["base_model_name_or_path"] == str(tmp_path / "base")
    monkeypatch.chdir("/")
    peft_model = AutoPeftModelForCausalLM.from_pretrained(tmp_path / "peft").eval()  # loads the base by that path
    ids, mask = right_padded_batch()
    with torch.no_grad():
        difference = (peft_model(input_ids=ids, attention_mask=mask).logits - ours(input_ids=ids, attention_mask=mask).logits)
    assert difference[mask.bool()].abs().max().item() < TOLERANCE


@pytest.mark.integration
def test_an_export_from_embedded_smollm2_loads_in_peft_offline_onto_the_local_weights(tmp_path):
    ours = PrefixTuningModel(ModelConfig(model_name_or_path="smollm2", task_type="text_generation"),
                             PrefixConfig(prefix_length=4, prefix_hidden_size=32))
    _trained_like(ours)
    config = _config_of(ours.export_peft(tmp_path))
    assert config["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    base = AutoModelForCausalLM.from_pretrained(resolve_model_path("smollm2"))
    peft_model = PeftModel.from_pretrained(base, tmp_path).eval()
    imported = PrefixTuningModel.from_peft(tmp_path)  # the Hub id resolves to the embedded copy, offline
    ids = torch.tensor([[1, 504, 2143, 314, 260, 1345, 30]])
    with torch.no_grad():
        expected = peft_model(input_ids=ids).logits
        assert (ours(input_ids=ids).logits - expected).abs().max().item() < 1e-4
        assert torch.equal(imported(input_ids=ids).logits, ours(input_ids=ids).logits)
    assert imported.model_name_or_path == "smollm2" and not imported.training
