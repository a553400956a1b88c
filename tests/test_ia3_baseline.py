"""The (IA)^3 baseline: its exact size, a bit-exact save -> load round trip, and training that learns."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import saved_tiny_model, tiny_model

from prefixes.config import ModelConfig, TrainingConfig
from prefixes.methods.ia3.config import IA3Config
from prefixes.methods.ia3.wrapper import IA3Model
from prefixes.methods.registry import get_method, method_names, method_of_config
from prefixes.train import Trainer


@pytest.fixture(scope="module")
def tiny_llama_dir(tmp_path_factory):
    return saved_tiny_model("llama", tmp_path_factory.mktemp("tiny-llama"))


def _causal_config(directory) -> ModelConfig:
    return ModelConfig(model_name_or_path=str(directory), task_type="text_generation")


def _copy_data(count: int = 16) -> list[dict]:
    generator = torch.Generator().manual_seed(0)
    rows = []
    for _ in range(count):
        ids = torch.randint(4, 60, (8,), generator=generator).tolist()
        rows.append({"input_ids": ids, "attention_mask": [1] * 8, "labels": ids})
    return rows


def test_ia3_is_a_registered_baseline_the_registry_resolves():
    spec = get_method("ia3")
    assert spec.kind == "baseline" and "ia3" in method_names("baseline")
    assert spec.wrapper_class() is IA3Model
    assert method_of_config(IA3Config()).name == "ia3"
    assert dict(spec.training_defaults) == {"learning_rate": 3e-3, "optimizer": "adafactor"}


def test_minilm_trains_key_value_and_feed_forward_vectors_and_the_head():
    model = IA3Model.from_config(ModelConfig(model_name_or_path="minilm", task_type="text_classification",
                                             num_labels=5))
    # 6 layers x (key 384 + value 384 + attention output input 384 + feed-forward activations 1536),
    # plus the fresh 5-way head (384 x 5 + 5).
    assert model.num_trainable_parameters() == 6 * (384 + 384 + 384 + 1536) + 384 * 5 + 5 == 18053
    assert model.num_base_parameters() == 22_715_141  # MiniLM-L6 with its head, PEFT's additions not counted
    trained = {name.split(".ia3_l.")[0].split("encoder.layer.0.")[-1]
               for name, p in model.named_parameters() if p.requires_grad and "layer.0." in name}
    assert trained == {"attention.self.key", "attention.self.value", "attention.output.dense", "output.dense"}


def test_tiny_causal_model_counts_and_frozen_base_after_training(tiny_llama_dir):
    torch.manual_seed(0)
    model = IA3Model.from_config(_causal_config(tiny_llama_dir))
    # 2 layers x (k_proj 2 heads x 8 + v_proj 2 x 8 + down_proj's 64 activations); a causal LM has no new head.
    assert model.num_trainable_parameters() == 2 * (16 + 16 + 64) == 192
    assert model.num_base_parameters() == sum(p.numel() for p in tiny_model("llama").parameters())
    frozen = {name: p.detach().clone() for name, p in model.named_parameters() if not p.requires_grad}
    # One batch of 4, seen every step: the loss is a function of the vectors alone, so it falls each step.
    trainer = Trainer(model, TrainingConfig(max_steps=10, batch_size=4, warmup_ratio=0.0, log_every=1, seed=0,
                                            learning_rate=0.3))
    assert trainer.optimizer_name == "adafactor"  # the method's default
    losses = [row["loss"] for row in trainer.train(_copy_data(4), _copy_data(4)).history["train"]]
    assert len(losses) == 10 and losses == sorted(losses, reverse=True) and losses[-1] < losses[0] - 0.05
    assert all(torch.equal(p, frozen[name]) for name, p in model.named_parameters() if not p.requires_grad)


def test_save_then_load_gives_bit_identical_logits(tiny_llama_dir, tmp_path):
    torch.manual_seed(0)
    model = IA3Model.from_config(_causal_config(tiny_llama_dir))
    with torch.no_grad():
        for name, vector in model.named_parameters():
            if ".ia3_l." in name:
                vector.uniform_(0.5, 1.5)  # away from PEFT's all-ones start, so loading must restore them
    model.save_pretrained(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["README.md", "adapter_config.json",
                                                                 "adapter_model.safetensors", "baseline_config.json"]
    loaded = IA3Model.from_pretrained(tmp_path)
    ids = torch.tensor([[5, 6, 7, 8, 9], [10, 11, 12, 13, 14]])
    with torch.no_grad():
        expected = model.eval()(input_ids=ids).logits
        restored = loaded.eval()(input_ids=ids).logits
        fresh = IA3Model.from_config(_causal_config(tiny_llama_dir)).eval()(input_ids=ids).logits
    assert torch.equal(restored, expected)
    assert not torch.allclose(fresh, expected)


def test_loading_with_other_layers_than_trained_names_the_config(tiny_llama_dir, tmp_path):
    IA3Model.from_config(_causal_config(tiny_llama_dir)).save_pretrained(tmp_path)
    record = json.loads((tmp_path / "baseline_config.json").read_text())
    record["method_config"] = IA3Config(target_modules=["k_proj"], feedforward_modules=[]).model_dump()
    (tmp_path / "baseline_config.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="does not fit ia3 with config.*load it with the config it trained with"):
        IA3Model.from_pretrained(tmp_path)


@pytest.mark.parametrize(("fields", "message"), [
    ({"target_modules": ["k_proj"]}, r"target_modules=\['k_proj'\] and feedforward_modules=None: set both"),
    ({"target_modules": ["k_proj"], "feedforward_modules": ["down_proj"]},
     r"feedforward_modules \['down_proj'\] are not in target_modules=\['k_proj'\]: add them"),
])
def test_config_refuses_layer_lists_that_do_not_fit_together(fields, message):
    with pytest.raises(ValueError, match=message):
        IA3Config(**fields)
