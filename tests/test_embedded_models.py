"""The two embedded real models load offline and train with each method (forward + backward)."""

from __future__ import annotations

import pytest
import torch

from prefixes import ModelConfig, PrefixConfig, PrefixTuningModel, PromptConfig, PromptTuningModel

pytestmark = pytest.mark.integration

METHODS = {
    "prefix": lambda config: PrefixTuningModel.from_config(config, PrefixConfig(prefix_length=8)),
    "p_tuning_v2": lambda config: PrefixTuningModel.from_config(config, PrefixConfig(prefix_length=8, reparameterization=False)),
    "prompt": lambda config: PromptTuningModel.from_config(
        config, PromptConfig(num_virtual_tokens=8, prompt_tuning_init="vocab_sample")
    ),
}


@pytest.mark.parametrize("method", METHODS)
def test_minilm_classification_forward_backward(method):
    model = METHODS[method](ModelConfig(model_name_or_path="minilm", task_type="text_classification", num_labels=5)).train()
    assert model.layout.num_kv_heads * model.layout.head_dim == 384 if method != "prompt" else True
    batch = model.tokenizer(["a football match report", "shares fell sharply"], return_tensors="pt", padding=True)
    output = model(**batch, labels=torch.tensor([3, 0]))
    output.loss.backward()
    assert torch.isfinite(output.loss)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    assert all(p.grad is None for p in model.base_model.parameters() if not p.requires_grad)


@pytest.mark.parametrize("method", METHODS)
def test_smollm2_generation_forward_backward(method):
    model = METHODS[method](ModelConfig(model_name_or_path="smollm2", task_type="text_generation")).train()
    if method != "prompt":
        # SmolLM2: 30 layers, 3 KV heads of 64 (GQA with 9 query heads).
        assert (model.layout.num_sites, model.layout.num_kv_heads, model.layout.head_dim) == (30, 3, 64)
    batch = model.tokenizer(["Hello, how are you?"], return_tensors="pt")
    output = model(**batch, labels=batch["input_ids"])
    output.loss.backward()
    assert torch.isfinite(output.loss)
    grads = [p.grad for p in model.adapters.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in grads)
