"""Generation with the prefix prefilled in the KV cache gives exactly the tokens of the concatenating path."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_model

from prefixes import PrefixConfig, PrefixTuningModel
from prefixes.inject.generate import takes_prefilled_cache
from prefixes.inject.state import PrefixState

SETTINGS = {
    "greedy": {"do_sample": False},
    "beam": {"do_sample": False, "num_beams": 3, "num_return_sequences": 2},
    "sampling": {"do_sample": True, "top_k": 8, "num_return_sequences": 2},
}


def _two_task_model(arch: str) -> PrefixTuningModel:
    torch.manual_seed(0)
    model = PrefixTuningModel.from_model(tiny_model(arch), PrefixConfig(prefix_length=3, prefix_dropout=0.0)).eval()
    model.add_adapter("long", PrefixConfig(prefix_length=6, prefix_dropout=0.0))
    with torch.no_grad():
        for param in model.adapters.parameters():
            param.mul_(3.0)  # a strong prefix, so generation visibly depends on it
    return model


def _left_padded_batch():
    ids = torch.randint(4, 90, (3, 6), generator=torch.Generator().manual_seed(2))
    mask = torch.ones_like(ids)
    mask[1, :2] = 0
    mask[2, :4] = 0
    return ids.masked_fill(mask == 0, 0), mask


def _generate(model, monkeypatch, prefilled: bool, **kwargs) -> tuple[torch.Tensor, int]:
    """Tokens and the number of attention calls that concatenated a prefix."""
    concatenations = []
    extend = PrefixState.extend

    def counted(self, *args):
        concatenations.append(1)
        return extend(self, *args)

    with monkeypatch.context() as patch:
        patch.setattr(PrefixState, "extend", counted)
        torch.manual_seed(5)
        tokens = model.generate(max_new_tokens=6, pad_token_id=0, prefix_in_cache=prefilled, **kwargs)
    return tokens, len(concatenations)


@pytest.mark.parametrize("arch", ["llama", "gpt2", "qwen2"])
@pytest.mark.parametrize("mode", sorted(SETTINGS))
@pytest.mark.parametrize("mixed", [False, True], ids=["one_task", "mixed_tasks"])
def test_prefilled_cache_generates_the_concatenating_paths_tokens(arch, mode, mixed, monkeypatch):
    model = _two_task_model(arch)
    ids, mask = _left_padded_batch()
    inputs = {"input_ids": ids, "attention_mask": mask, **SETTINGS[mode]}
    if mixed:
        inputs["task_ids"] = torch.tensor([1, 0, 1])
    assert takes_prefilled_cache(model.base_model, model.attachment, inputs)

    prefilled, prefilled_concatenations = _generate(model, monkeypatch, True, **inputs)
    concatenated, concatenations = _generate(model, monkeypatch, False, **inputs)

    assert torch.equal(prefilled, concatenated)
    assert prefilled_concatenations == 0  # no step concatenated a prefix
    assert concatenations == 2 * 6  # 2 layers, prompt + 5 decoding steps
    rows = 3 * SETTINGS[mode].get("num_return_sequences", 1)
    assert prefilled.shape == (rows, 6 + 6)


def test_the_prefix_decides_the_generated_tokens(monkeypatch):
    model = _two_task_model("llama")
    ids, mask = _left_padded_batch()
    with_prefix, _ = _generate(model, monkeypatch, True, input_ids=ids, attention_mask=mask, do_sample=False)
    plain = model.base_model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=6, do_sample=False,
                                      pad_token_id=0)
    assert not torch.equal(with_prefix, plain)


def test_an_inferred_mask_matches_the_concatenating_path(monkeypatch):
    model = _two_task_model("gpt2")
    ids, _ = _left_padded_batch()  # pads are id 0, the pad_token_id: generate masks them itself
    prefilled, _ = _generate(model, monkeypatch, True, input_ids=ids, do_sample=False)
    concatenated, _ = _generate(model, monkeypatch, False, input_ids=ids, do_sample=False)
    assert torch.equal(prefilled, concatenated)


@pytest.mark.parametrize(
    ("arch", "extra"),
    [("t5", {}), ("llama", {"use_cache": False}), ("llama", {"position_ids": torch.arange(6)[None]})],
    ids=["encoder_decoder", "no_cache", "own_positions"],
)
def test_calls_the_prefilled_cache_does_not_fit_keep_the_concatenating_path(arch, extra):
    model = PrefixTuningModel.from_model(tiny_model(arch), PrefixConfig(prefix_length=3)).eval()
    assert not takes_prefilled_cache(model.base_model, model.attachment, {"input_ids": torch.ones(1, 6), **extra})
