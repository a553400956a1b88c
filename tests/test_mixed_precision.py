"""bf16 mixed precision: the forward runs in bf16, the trained weights stay fp32, emulation warns."""

from __future__ import annotations

import logging

import torch
from conftest import tiny_model
from safetensors.torch import load_file

from prefixes import PrefixConfig, PrefixTuningModel
from prefixes.accelerator import make_accelerator
from prefixes.config import TrainingConfig
from prefixes.train import PrefixTrainer


def _marker_data(count: int) -> list[dict]:
    """Label = which of three marker tokens the sequence holds."""
    generator = torch.Generator().manual_seed(3)
    rows = []
    for index in range(count):
        ids = torch.randint(10, 90, (6,), generator=generator).tolist()
        ids[index % 6] = 4 + index % 3
        rows.append({"input_ids": ids, "attention_mask": [1] * 6, "labels": index % 3})
    return rows


def test_bf16_training_computes_in_bf16_and_keeps_fp32_weights(tmp_path):
    torch.manual_seed(0)
    model = PrefixTuningModel.from_model(tiny_model("bert"), PrefixConfig(prefix_length=4, reparameterization=False))
    seen = set()
    first_linear = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
    first_linear.register_forward_hook(lambda module, args, output: seen.add(output.dtype))
    config = TrainingConfig(batch_size=4, learning_rate=1e-2, log_every=1, num_epochs=3, mixed_precision="bf16", seed=7)
    result = PrefixTrainer(model, config, best_dir=tmp_path).train(_marker_data(48))

    assert seen == {torch.bfloat16}
    losses = [row["loss"] for row in result.history["train"]]
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and {p.dtype for p in trainable} == {torch.float32}
    saved = load_file(tmp_path / "prefix.safetensors")
    assert saved and {t.dtype for t in saved.values()} == {torch.float32}


def test_emulated_bf16_warns_and_names_the_setting(monkeypatch, caplog):
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"avx512_bf16": False, "amx_bf16": False})
    with caplog.at_level(logging.WARNING, logger="prefixes.accelerator"):
        make_accelerator(TrainingConfig(mixed_precision="bf16"), num_adapters=1)
    assert "mixed_precision='no'" in caplog.text and "emulated" in caplog.text


def test_native_bf16_and_fp32_do_not_warn(monkeypatch, caplog):
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"avx512_bf16": True})
    with caplog.at_level(logging.WARNING, logger="prefixes.accelerator"):
        make_accelerator(TrainingConfig(mixed_precision="bf16"), num_adapters=1)
        monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {})
        make_accelerator(TrainingConfig(mixed_precision="no"), num_adapters=1)
    assert caplog.text == ""


def test_a_run_may_change_precision_after_another_in_the_same_process():
    fp32 = make_accelerator(TrainingConfig(mixed_precision="no"), num_adapters=1)
    assert fp32.mixed_precision == "no"
    bf16 = make_accelerator(TrainingConfig(mixed_precision="bf16"), num_adapters=1)
    assert bf16.mixed_precision == "bf16"
