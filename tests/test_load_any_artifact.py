"""One load path (`prefixes.load`) for every method's saved artifact, baselines included: the
loaded model is of the method's wrapper, in eval mode, with the saved model's logits."""

from __future__ import annotations

import pytest
import torch
from bundle_artifacts import perturbed
from conftest import saved_tiny_model

import prefixes
from prefixes.config import ModelConfig
from prefixes.methods.registry import get_method, method_names

IDS = torch.tensor([[5, 17, 23, 42, 8, 9], [6, 7, 8, 9, 10, 11]])


@pytest.fixture(scope="module")
def tiny_bert_dir(tmp_path_factory):
    return saved_tiny_model("bert", tmp_path_factory.mktemp("tiny-bert"))


def _logits(model) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=IDS, attention_mask=torch.ones_like(IDS)).logits


@pytest.mark.parametrize("method", method_names())
def test_prefixes_load_restores_every_methods_artifact(method, tiny_bert_dir, tmp_path):
    spec = get_method(method)
    torch.manual_seed(0)
    config = ModelConfig(model_name_or_path=str(tiny_bert_dir), task_type="text_classification", num_labels=3,
                         label_names=["a", "b", "c"])
    model = perturbed(spec.wrapper_class().from_config(config, spec.make_config()), seed=1).eval()
    model.save_pretrained(tmp_path / method)

    loaded = prefixes.load(tmp_path / method)

    assert type(loaded) is type(model) and not loaded.training
    assert torch.equal(_logits(loaded), _logits(model))
    assert loaded.base_model.config.id2label == {0: "a", 1: "b", 2: "c"}


def test_a_folder_without_either_config_is_refused_naming_both(tmp_path):
    with pytest.raises(ValueError, match="holds neither prefix_config.json .* nor baseline_config.json"):
        prefixes.load(tmp_path)
