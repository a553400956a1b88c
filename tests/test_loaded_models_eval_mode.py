"""Every load path returns an eval-mode model: one input run twice gives the same logits.

A prefix with dropout 0.5 makes training mode visible: in training mode two calls differ.
"""

from __future__ import annotations

import pytest
import torch
from conftest import saved_tiny_lm

from prefixes import ModelConfig, MultiTaskModel, PrefixConfig, PrefixTuningModel, interpolate_models, load_adapter
from prefixes.registry import Registry

IDS = torch.tensor([[5, 17, 23, 42, 8, 9]])


def _logits(model, **kwargs) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=IDS, attention_mask=torch.ones_like(IDS), **kwargs).logits


def _assert_same_twice(model, **kwargs) -> None:
    assert not model.training
    assert torch.equal(_logits(model, **kwargs), _logits(model, **kwargs))


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    """A prefix with dropout 0.5 over a tiny Llama loaded by path, moved off its init and saved."""
    root = tmp_path_factory.mktemp("eval-mode")
    base = saved_tiny_lm(root / "base")
    model = PrefixTuningModel(ModelConfig(model_name_or_path=str(base), task_type="text_generation"),
                              PrefixConfig(prefix_length=4, prefix_dropout=0.5))
    return model.save_pretrained(root / "artifact")


def test_dropout_is_visible_in_training_mode(artifact):
    model = load_adapter(artifact).train()
    assert not torch.equal(_logits(model), _logits(model))


def test_a_new_model_is_in_eval_mode_until_train(artifact):
    model = PrefixTuningModel.from_pretrained(artifact)
    fresh = PrefixTuningModel(ModelConfig(model_name_or_path=model.model_name_or_path, task_type="text_generation"),
                              PrefixConfig(prefix_length=4, prefix_dropout=0.5))
    _assert_same_twice(fresh)


def test_from_pretrained_returns_eval_mode(artifact):
    _assert_same_twice(PrefixTuningModel.from_pretrained(artifact))


def test_load_adapter_function_returns_eval_mode(artifact):
    _assert_same_twice(load_adapter(artifact))


def test_load_adapter_into_a_bank_follows_the_model_mode(artifact):
    model = load_adapter(artifact)
    model.load_adapter(artifact, "second")
    model.active_adapter = "second"
    _assert_same_twice(model)
    assert not model.adapters["second"].training


def test_registry_load_returns_eval_mode(artifact, tmp_path):
    registry = Registry(tmp_path / "registry")
    registry.publish(artifact, task="dialogue", method="prefix")
    _assert_same_twice(registry.get("dialogue", "prefix").load())


def test_interpolated_model_is_in_eval_mode(artifact):
    _assert_same_twice(interpolate_models(artifact, artifact, alpha=0.5))


def test_bundle_is_in_eval_mode(artifact):
    bundle = MultiTaskModel.from_artifacts({"dialogue": artifact})
    assert not bundle.training
    with torch.no_grad():
        first = bundle(["dialogue"], input_ids=IDS, attention_mask=torch.ones_like(IDS)).logits
        assert torch.equal(first, bundle(["dialogue"], input_ids=IDS, attention_mask=torch.ones_like(IDS)).logits)
