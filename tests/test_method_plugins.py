"""A method registered inside this test only goes through train -> save -> load -> bundle -> registry."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_model
from torch import nn

from prefixes import MultiTaskModel, Registry, load_adapter
from prefixes.artifact.schema import read_artifact_config
from prefixes.config import TrainingConfig
from prefixes.methods.prefix.wrapper import PrefixMethod, PrefixTuningModel
from prefixes.methods.registry import MethodSpec, get_method, method_names, register_method, unregister_method
from prefixes.strict import StrictModel
from prefixes.train import Trainer


class ToyConfig(StrictModel):
    prefix_length: int = 3

    def artifact_tensors(self, layout: dict | None, hidden_size: int | None) -> dict:
        """What a folded toy artifact holds: the registry checks it at publish."""
        return {"prefix": (self.prefix_length, len(layout["site_kinds"]), 2, layout["num_kv_heads"], layout["head_dim"])}


class ToyPrefix(nn.Module):
    """A flat prefix that starts at zero: the model starts exactly as the base model."""

    def __init__(self, config: ToyConfig, layout):
        super().__init__()
        self.config = config
        self.prefix = nn.Parameter(torch.zeros(config.prefix_length, layout.num_sites, 2, layout.num_kv_heads, layout.head_dim))

    @property
    def length(self) -> int:
        return self.config.prefix_length

    def forward(self) -> torch.Tensor:
        return self.prefix


class ToyMethod(PrefixMethod):
    config_class = ToyConfig

    def new_adapter(self, config):
        return ToyPrefix(config, self.prefix_layout)

    def initialize(self, adapter):
        pass

    def folded_tensors(self, adapter):
        return {"prefix": adapter.prefix.detach().clone()}

    def adapter_from_tensors(self, config, tensors):
        adapter = ToyPrefix(ToyConfig.model_validate(config.method_config), self.prefix_layout)
        adapter.load_state_dict({"prefix": tensors["prefix" if config.form == "folded" else "adapter.prefix"]})
        return adapter


class ToyModel(PrefixTuningModel):
    method_class = ToyMethod


@pytest.fixture
def toy_method():
    spec = register_method(MethodSpec(name="toy_prefix", config_class=ToyConfig, wrapper=f"{__name__}:ToyModel",
                                      kind="prefix", training_defaults={"learning_rate": 0.05, "optimizer": "adamw"}))
    yield spec
    unregister_method("toy_prefix")
    with pytest.raises(ValueError, match=r"unknown method 'toy_prefix': registered methods are \[.*'p_tuning_v2'"):
        get_method("toy_prefix")


def _data(count: int = 16) -> list[dict]:
    generator = torch.Generator().manual_seed(0)
    rows = []
    for _ in range(count):
        ids = torch.randint(4, 60, (8,), generator=generator).tolist()
        rows.append({"input_ids": ids, "attention_mask": [1] * 8, "labels": ids})
    return rows


def test_registered_toy_method_trains_saves_loads_bundles_and_publishes(toy_method, tmp_path):
    assert "toy_prefix" in method_names(kind="prefix")
    base = tiny_model("llama")
    frozen = {name: param.detach().clone() for name, param in base.named_parameters()}
    model = ToyModel.from_model(base, ToyConfig())
    trainer = Trainer(model, TrainingConfig(max_steps=6, batch_size=4, warmup_ratio=0.0, log_every=1, seed=0),
                      best_dir=tmp_path / "best", checkpoint_dir=tmp_path / "ckpt", final_checkpoint=True)
    assert trainer.learning_rate == 0.05  # the toy's registered default
    result = trainer.train(_data(), _data()[:4])
    losses = [row["loss"] for row in result.history["train"]]
    assert len(losses) == 6 and losses[-1] < losses[0]
    assert model.adapters["default"].prefix.abs().sum() > 0  # trained away from zero
    assert all(torch.equal(param, frozen[name]) for name, param in base.named_parameters())
    assert read_artifact_config(tmp_path / "best").method == "toy_prefix"
    assert read_artifact_config(tmp_path / "ckpt" / "model").form == "training"

    loaded = load_adapter(tmp_path / "best", base_model=base)
    assert type(loaded) is ToyModel
    assert torch.equal(loaded.adapters["default"].prefix, model.adapters["default"].prefix)
    ids = torch.tensor([[5, 6, 7, 8], [9, 10, 11, 12]])
    with torch.no_grad():
        alone = loaded(input_ids=ids).logits
        model.adapters["default"].prefix.mul_(-1.0)
        model.save_pretrained(tmp_path / "negated")
        negated = model(input_ids=ids).logits
    assert not torch.allclose(alone, negated)

    bundle = MultiTaskModel.from_artifacts({"a": tmp_path / "best", "b": tmp_path / "negated"}, base_model=base)
    assert type(bundle.model) is ToyModel
    with torch.no_grad():
        mixed = bundle(["b", "a"], input_ids=ids).logits
    assert torch.allclose(mixed[0], negated[0], atol=1e-5) and torch.allclose(mixed[1], alone[1], atol=1e-5)

    registry = Registry(tmp_path / "registry")
    entry = registry.publish(tmp_path / "best", task="copy", method="toy_prefix")
    assert entry.metadata.adapter_method == "toy_prefix"
    restored = registry.get("copy", "toy_prefix").load(base_model=base)
    assert type(restored) is ToyModel
    assert torch.equal(restored.adapters["default"].prefix, loaded.adapters["default"].prefix)


def test_distinguishing_config_defaults_pick_the_method():
    from prefixes import PrefixConfig
    from prefixes.methods.registry import method_of_config

    assert method_of_config(PrefixConfig()).name == "prefix"
    assert method_of_config(get_method("p_tuning_v2").make_config(prefix_length=4)).name == "p_tuning_v2"
    assert get_method("p_tuning_v2").make_config().reparameterization is False
    with pytest.raises(ValueError, match="already registered"):
        register_method(get_method("prefix"))
