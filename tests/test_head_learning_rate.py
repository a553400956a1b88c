"""`head_learning_rate`: the task head steps at its own rate, the adapter at the run's, and nothing else changes."""

from __future__ import annotations

import pytest
import torch
from conftest import saved_tiny_model, tiny_model

from prefixes import PrefixConfig, PrefixTuningModel
from prefixes.config import ModelConfig, TrainingConfig
from prefixes.methods.lora.config import LoraConfig
from prefixes.methods.lora.wrapper import LoraModel
from prefixes.task_heads import trainable_head_parameters
from prefixes.train import Trainer

ROWS = [{"input_ids": [5 + i, 20 + i, 40 + i], "attention_mask": [1, 1, 1], "labels": i % 2} for i in range(8)]


def _prefix_model() -> PrefixTuningModel:
    torch.manual_seed(0)
    return PrefixTuningModel.from_model(
        tiny_model("bert"), PrefixConfig(prefix_length=4, reparameterization=False, prefix_dropout=0.0))


def _one_adamw_step(model, **config) -> dict[str, float]:
    """The largest change of each trainable parameter after one AdamW step without warm-up or clipping."""
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    settings = TrainingConfig(batch_size=8, max_steps=1, warmup_ratio=0.0, lr_scheduler="constant",
                              max_grad_norm=None, seed=0, **config)
    Trainer(model, settings).train(ROWS)
    params = dict(model.named_parameters())
    return {n: (params[n].detach() - value).abs().max().item() for n, value in before.items()}


def test_the_head_of_a_classifier_is_its_parameters_outside_the_backbone():
    model = _prefix_model()
    names = {id(p): n for n, p in model.base_model.named_parameters()}
    head = [names[id(p)] for p in trainable_head_parameters(model.base_model, "text_classification")]
    assert head == ["classifier.weight", "classifier.bias"]
    # A generation model's output layer belongs to the language model: it is never a head.
    assert trainable_head_parameters(tiny_model("gpt2"), "text_generation") == []


def test_adamw_moves_the_head_by_its_own_rate_and_the_prefix_by_the_runs():
    # AdamW's first step moves every weight with a gradient by its learning rate (to within eps).
    changes = _one_adamw_step(_prefix_model(), learning_rate=1e-3, head_learning_rate=5e-2)
    head = {n: c for n, c in changes.items() if "classifier" in n}
    adapter = {n: c for n, c in changes.items() if "classifier" not in n}
    assert len(head) == 2 and adapter
    for change in head.values():
        assert change == pytest.approx(5e-2, rel=1e-3)
    for change in adapter.values():
        assert change == pytest.approx(1e-3, rel=1e-3)


def test_unset_it_trains_the_head_at_the_runs_rate_exactly_as_before():
    unset = _one_adamw_step(_prefix_model(), learning_rate=1e-3)
    same = _one_adamw_step(_prefix_model(), learning_rate=1e-3, head_learning_rate=1e-3)
    assert unset == same
    assert max(unset.values()) == pytest.approx(1e-3, rel=1e-3)


@pytest.fixture(scope="module")
def tiny_bert_dir(tmp_path_factory):
    return saved_tiny_model("bert", tmp_path_factory.mktemp("tiny-bert"))


def test_a_lora_baseline_steps_its_peft_head_at_the_head_rate(tiny_bert_dir):
    torch.manual_seed(0)
    config = ModelConfig(model_name_or_path=str(tiny_bert_dir), task_type="text_classification", num_labels=2)
    model = LoraModel.from_config(config, LoraConfig(r=2, alpha=4))
    model.train()
    changes = _one_adamw_step(model, learning_rate=1e-3, head_learning_rate=1e-2)
    head = {n: c for n, c in changes.items() if "classifier" in n}
    lora = {n: c for n, c in changes.items() if "lora_B" in n}  # lora_A gets no gradient while B is zero
    assert len(head) == 2 and lora  # PEFT's trained copy of the classifier (modules_to_save)
    assert all(change == pytest.approx(1e-2, rel=1e-3) for change in head.values())
    # Tiny gradients move a little less than the rate (AdamW's eps): within 2%.
    assert all(change == pytest.approx(1e-3, rel=2e-2) for change in lora.values())
