"""A PEFT prefix-tuning (with or without projection) or prompt-tuning adapter imports with PEFT's logits,
in eval mode; our export imports back bit for bit; an import saves as an artifact the registry publishes."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import right_padded_batch, saved_tiny_lm, tiny_model
from peft import LoraConfig, PeftModel, PrefixTuningConfig, PromptTuningConfig, get_peft_model

from prefixes import ModelConfig, PrefixConfig, PrefixTuningModel, PromptConfig, PromptTuningModel
from prefixes.registry import Registry

TOLERANCE = 1e-5


def _peft_adapter(arch: str, peft_config, folder):
    """A PEFT adapter moved away from its initialisation, saved by PEFT; also the live PEFT model."""
    torch.manual_seed(0)
    peft_model = get_peft_model(tiny_model(arch), peft_config)
    with torch.no_grad():
        for param in peft_model.prompt_encoder.parameters():
            param.add_(torch.randn_like(param) * 0.3)
    peft_model.save_pretrained(folder)
    return peft_model.eval()


def _logits(model, ids, mask):
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
    return logits[:, -ids.shape[1]:]  # prompt tuning also returns the virtual positions


def _max_difference(first, second, mask) -> float:
    return (first - second)[mask.bool()].abs().max().item()


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
@pytest.mark.parametrize("projection", [True, False], ids=["projection", "flat"])
def test_peft_prefix_adapter_imports_with_peft_logits(arch, projection, tmp_path):
    config = PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4, prefix_projection=projection,
                                encoder_hidden_size=16)
    live = _peft_adapter(arch, config, tmp_path)
    reloaded = PeftModel.from_pretrained(tiny_model(arch), tmp_path).eval()
    ours = PrefixTuningModel.from_peft(tmp_path, base_model=tiny_model(arch))
    assert not ours.training and not any(module.training for module in ours.modules())
    ids, mask = right_padded_batch()
    expected = _logits(live, ids, mask)  # PEFT's encoder math, run live: projection MLP included
    difference = _max_difference(_logits(ours, ids, mask), expected, mask)
    print(f"{arch} projection={projection} max|diff|={difference:.2e}")
    assert difference < TOLERANCE
    assert _max_difference(_logits(reloaded, ids, mask), expected, mask) < TOLERANCE
    assert ours.adapters["default"].config.prefix_length == 4
    assert ours.adapters["default"].config.reparameterization is projection


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_peft_prompt_adapter_imports_with_peft_logits(arch, tmp_path):
    live = _peft_adapter(arch, PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=5), tmp_path)
    ours = PromptTuningModel.from_peft(tmp_path, base_model=tiny_model(arch))
    assert not ours.training
    ids, mask = right_padded_batch()
    difference = _max_difference(_logits(ours, ids, mask), _logits(live, ids, mask), mask)
    print(f"{arch} prompt max|diff|={difference:.2e}")
    assert difference < TOLERANCE
    assert torch.equal(ours.adapters["default"].embedding, live.prompt_encoder["default"].embedding.weight)


@pytest.mark.parametrize(
    ("make", "method"),
    [
        (lambda base: PrefixTuningModel.from_model(base, PrefixConfig(prefix_length=5, prefix_hidden_size=16)), "prefix"),
        (lambda base: PrefixTuningModel.from_model(base, PrefixConfig(prefix_length=5, reparameterization=False)),
         "p_tuning_v2"),
        (lambda base: PromptTuningModel.from_model(base, PromptConfig(num_virtual_tokens=5)), "prompt"),
    ],
    ids=["prefix_mlp", "p_tuning_v2", "prompt"],
)
def test_export_then_import_round_trips_bit_for_bit(make, method, tmp_path):
    torch.manual_seed(0)
    ours = make(tiny_model("llama"))
    ours.export_peft(tmp_path / "peft")
    back = type(ours).from_peft(tmp_path / "peft", base_model=tiny_model("llama"))
    original = ours.adapter_method.folded_tensors(ours.adapters["default"])
    imported = back.adapter_method.folded_tensors(back.adapters["default"])
    assert original.keys() == imported.keys()
    assert all(torch.equal(original[name], imported[name]) for name in original)
    ids, mask = right_padded_batch()
    assert torch.equal(_logits(back, ids, mask), _logits(ours, ids, mask))
    back.save_pretrained(tmp_path / "artifact")
    assert json.loads((tmp_path / "artifact" / "prefix_config.json").read_text())["method"] == method


def test_an_imported_peft_adapter_saves_as_an_artifact_the_registry_publishes(tmp_path):
    config = PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4, prefix_projection=True,
                                encoder_hidden_size=16)
    live = _peft_adapter("llama", config, tmp_path / "peft")
    PrefixTuningModel.from_peft(tmp_path / "peft", base_model=tiny_model("llama")).save_pretrained(tmp_path / "artifact")
    entry = Registry(tmp_path / "registry").publish(tmp_path / "artifact", task="chat", method="prefix")
    loaded = entry.load(base_model=tiny_model("llama"))
    ids, mask = right_padded_batch()
    assert _max_difference(_logits(loaded, ids, mask), _logits(live, ids, mask), mask) < TOLERANCE


def test_peft_import_refuses_what_it_cannot_take_and_says_why(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a PEFT adapter folder: missing adapter_config.json"):
        PrefixTuningModel.from_peft(tmp_path, base_model=tiny_model("llama"))
    get_peft_model(tiny_model("llama"), LoraConfig(task_type="CAUSAL_LM", target_modules=["q_proj"])).save_pretrained(
        tmp_path / "lora")
    with pytest.raises(ValueError, match="it is a 'LORA' adapter, not prefix or prompt tuning"):
        PrefixTuningModel.from_peft(tmp_path / "lora", base_model=tiny_model("llama"))
    _peft_adapter("llama", PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=3), tmp_path / "prompt")
    with pytest.raises(ValueError, match="is 'PROMPT_TUNING', not 'PREFIX_TUNING'"):
        PrefixTuningModel.from_peft(tmp_path / "prompt", base_model=tiny_model("llama"))
    prefix = PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=3)
    _peft_adapter("gpt2", prefix, tmp_path / "gpt2")
    with pytest.raises(ValueError, match="this base model takes 2 layers of 2 key/value heads x 8 dims"):
        PrefixTuningModel.from_peft(tmp_path / "gpt2", base_model=tiny_model("llama"))
    config = json.loads((tmp_path / "gpt2" / "adapter_config.json").read_text())
    (tmp_path / "gpt2" / "adapter_config.json").write_text(json.dumps({**config, "task_type": "SEQ_CLS"}))
    with pytest.raises(ValueError, match="has task_type 'SEQ_CLS': PEFT import takes causal language model adapters"):
        PrefixTuningModel.from_peft(tmp_path / "gpt2", base_model=tiny_model("gpt2"))


def test_peft_import_without_a_base_model_needs_its_name(tmp_path):
    _peft_adapter("llama", PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=3), tmp_path)
    with pytest.raises(ValueError, match="names no base_model_name_or_path: pass the base model"):
        PromptTuningModel.from_peft(tmp_path)


def test_peft_import_loads_the_recorded_local_base_model(tmp_path):
    base = saved_tiny_lm(tmp_path / "base")
    ours = PromptTuningModel(ModelConfig(model_name_or_path=str(base), task_type="text_generation"),
                             PromptConfig(num_virtual_tokens=3))
    ours.export_peft(tmp_path / "peft")
    back = PromptTuningModel.from_peft(tmp_path / "peft")
    assert back.model_name_or_path == str(base.resolve()) and back.tokenizer is not None and not back.training
    ids, mask = right_padded_batch()
    assert torch.equal(_logits(back, ids, mask), _logits(ours, ids, mask))
