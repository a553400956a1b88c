"""Architectures beyond the plain attention interface: BLOOM (ALiBi), StableLM and Falcon (prefix through
the KV cache), Gemma2 (eager-only, soft-capping), and the sliding-window rule.

- PEFT parity where PEFT computes the same thing; Falcon, which PEFT cannot tune, against the stock
  model with a KV cache prefilled by hand;
- the sliding-window rule (the prefix conditions every position) against a hand-written eager
  attention with its own masks; export to PEFT refused where PEFT would slide the prefix out.
"""

from __future__ import annotations

import copy

import pytest
import torch
from conftest import right_padded_batch
from families import family_model
from peft import PeftModel
from transformers import AttentionInterface, DynamicCache
from transformers.masking_utils import AttentionMaskInterface, eager_mask

from prefixes import PrefixConfig, PrefixTuningModel, PromptConfig, PromptTuningModel

TOLERANCE = 1e-5
PEFT_FAMILIES = ["BLOOM", "StableLM", "Gemma 2"]
FAMILIES = PEFT_FAMILIES + ["Falcon"]
MAKERS = {
    "prefix_mlp": lambda b: PrefixTuningModel.from_model(
        b, PrefixConfig(prefix_length=5, prefix_hidden_size=16, prefix_dropout=0.0)
    ),
    "p_tuning_v2": lambda b: PrefixTuningModel.from_model(b, PrefixConfig(prefix_length=5, reparameterization=False)),
    "prompt": lambda b: PromptTuningModel.from_model(b, PromptConfig(num_virtual_tokens=5)),
}


def _trained_like(model) -> None:
    """Move the adapter away from its initialisation so agreement is not trivially met."""
    with torch.no_grad():
        for param in model.adapters.parameters():
            param.add_(torch.randn_like(param) * 0.3)


def _real_token_diff(actual, expected, mask) -> float:
    length = mask.shape[1]
    return (actual[:, -length:] - expected[:, -length:])[mask.bool()].abs().max().item()


@pytest.mark.parametrize("family", PEFT_FAMILIES)
@pytest.mark.parametrize("method", list(MAKERS))
def test_peft_loads_our_export_with_equal_logits(family, method, tmp_path):
    base = family_model(family)
    torch.manual_seed(0)
    ours = MAKERS[method](copy.deepcopy(base)).eval()
    _trained_like(ours)
    ids, mask = right_padded_batch()
    ours.export_peft(tmp_path, max_length=ids.shape[1])
    peft_model = PeftModel.from_pretrained(base, tmp_path).eval()
    with torch.no_grad():
        difference = _real_token_diff(ours(input_ids=ids, attention_mask=mask).logits,
                                      peft_model(input_ids=ids, attention_mask=mask).logits, mask)
    print(f"{family} {method} max|diff|={difference:.2e}")
    assert difference < TOLERANCE


@pytest.mark.parametrize("variant", [{}, {"alibi": True}, {"new_decoder_architecture": True, "num_kv_heads": 2}],
                         ids=["rotary_multi_query", "alibi", "grouped_query"])
def test_falcon_matches_hand_prefilled_cache(variant):
    base = family_model("Falcon", **variant)
    reference = copy.deepcopy(base)
    model = MAKERS["prefix_mlp"](base).eval()
    _trained_like(model)
    prefix = model.adapters["default"].folded()  # (P, layers, 2, kv, D)
    ids, mask = right_padded_batch()
    batch, length = ids.shape
    cache = DynamicCache(config=reference.config)
    for layer in range(prefix.shape[1]):
        keys, values = (prefix[:, layer, i].permute(1, 0, 2)[None].expand(batch, -1, -1, -1) for i in (0, 1))
        cache.update(keys.contiguous(), values.contiguous(), layer)
    positions = (5 + torch.arange(length))[None].expand(batch, -1)
    full_mask = torch.cat([torch.ones(batch, 5, dtype=mask.dtype), mask], dim=1)
    with torch.no_grad():
        expected = reference(input_ids=ids, attention_mask=full_mask, cache=cache, position_ids=positions).logits
        actual = model(input_ids=ids, attention_mask=mask).logits
    difference = _real_token_diff(actual, expected, mask)
    print(f"Falcon {variant} max|diff|={difference:.2e}")
    assert model.attachment.mechanism == "cache"
    assert difference < TOLERANCE


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", ["prefix_mlp", "p_tuning_v2"])
def test_training_moves_only_the_prefix_and_loss_falls(family, method):
    torch.manual_seed(0)
    model = MAKERS[method](family_model(family)).train()
    ids, mask = right_padded_batch()
    labels = ids.masked_fill(mask == 0, -100)
    frozen = {n: p.detach().clone() for n, p in model.base_model.named_parameters()}
    before = {n: p.detach().clone() for n, p in model.adapters.named_parameters()}
    optimizer = torch.optim.AdamW(model.adapters.parameters(), lr=1e-2)
    losses = []
    for _ in range(5):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert all(torch.equal(p, frozen[n]) for n, p in model.base_model.named_parameters())
    assert not any(p.requires_grad for p in model.base_model.parameters())
    assert all(not torch.equal(p, before[n]) for n, p in model.adapters.named_parameters())
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("family", FAMILIES)
def test_generation_with_cache_equals_without(family):
    torch.manual_seed(0)
    model = MAKERS["prefix_mlp"](family_model(family)).eval()
    with torch.no_grad():
        for param in model.adapters.parameters():
            param.mul_(3.0)  # a strong prefix, so generation visibly depends on it
    ids = torch.randint(4, 90, (2, 5), generator=torch.Generator().manual_seed(2))
    settings = {
        "max_new_tokens": 6,
        "do_sample": False,
        "pad_token_id": 0,
        "output_logits": True,
        "return_dict_in_generate": True,
    }
    cached = model.generate(input_ids=ids, use_cache=True, **settings)
    uncached = model.generate(input_ids=ids, use_cache=False, **settings)
    assert torch.equal(cached.sequences, uncached.sequences)
    for step_cached, step_uncached in zip(cached.logits, uncached.logits):
        assert torch.allclose(step_cached, step_uncached, atol=TOLERANCE)
    # The first step's logits, next to the model's without a prefix: the prefix is in play.
    without_prefix = family_model(family).generate(input_ids=ids, use_cache=True, **settings)
    assert (cached.logits[0] - without_prefix.logits[0]).abs().max() > 1e-3
    beams = model.generate(input_ids=ids, num_beams=3, num_return_sequences=2, max_new_tokens=4, do_sample=False, pad_token_id=0)
    assert beams.shape[0] == 4


@pytest.mark.parametrize("family", FAMILIES)
def test_mixed_batch_equals_each_example_alone(family):
    torch.manual_seed(0)
    model = PrefixTuningModel.from_model(family_model(family), PrefixConfig(prefix_length=3, prefix_dropout=0.0)).eval()
    model.add_adapter("long", PrefixConfig(prefix_length=6, prefix_dropout=0.0))
    ids, mask = right_padded_batch()
    task_ids = torch.tensor([1, 0, 1])
    with torch.no_grad():
        mixed = model(input_ids=ids, attention_mask=mask, task_ids=task_ids).logits
        for row, task in enumerate(task_ids.tolist()):
            model.active_adapter = model.adapter_names[task]
            alone = model(input_ids=ids[row:row + 1], attention_mask=mask[row:row + 1]).logits
            length = int(mask[row].sum())
            got, want = mixed[row, -ids.shape[1]:][:length], alone[0, -ids.shape[1]:][:length]
            assert torch.allclose(got, want, atol=TOLERANCE), (row, (got - want).abs().max())


class _WindowedPrefixReference:
    """Eager attention written out: the prefix visible to every query, real tokens causal within the window."""

    def __init__(self, prefix: torch.Tensor, padding: torch.Tensor):
        self.prefix, self.padding = prefix, padding  # (P, sites, 2, kv, D), (B, S)
        self.calls, self.windows = 0, []

    def __call__(self, module, query, key, value, attention_mask, scaling=None, sliding_window=None, softcap=None, **kwargs):
        site, self.calls = self.calls, self.calls + 1
        self.windows.append(sliding_window)
        batch, heads, length, _ = query.shape
        prefix_len = self.prefix.shape[0]
        prefix_kv = [self.prefix[:, site, i].permute(1, 0, 2)[None].expand(batch, -1, -1, -1) for i in (0, 1)]
        key, value = (
            torch.cat([p, t], dim=2).repeat_interleave(heads // t.shape[1], dim=1) for p, t in zip(prefix_kv, (key, value))
        )
        scores = query @ key.transpose(2, 3) * scaling
        if softcap is not None:
            scores = torch.tanh(scores / softcap) * softcap
        q, k = torch.arange(length)[:, None], torch.arange(length)[None]
        allowed = (k <= q) & self.padding.bool()[:, None, None, :]
        if sliding_window is not None:
            allowed = allowed & (q - k < sliding_window)
        allowed = torch.cat(
            [torch.ones(batch, 1, length, prefix_len, dtype=torch.bool), allowed.expand(batch, 1, length, length)], dim=-1
        )
        probs = scores.masked_fill(~allowed, float("-inf")).softmax(-1)
        return (probs @ value).transpose(1, 2).contiguous(), None


@pytest.mark.parametrize("family", ["Mistral", "Gemma 2"])
def test_sliding_window_rule_prefix_conditions_every_position(family):
    """Window 4, prefix 3, 7 tokens: later tokens' windows exclude early tokens but never the prefix."""
    base = family_model(family, sliding_window=4)
    reference = copy.deepcopy(base)
    model = MAKERS["prefix_mlp"](base).eval()
    _trained_like(model)
    ids, mask = right_padded_batch()
    attention = _WindowedPrefixReference(model.adapters["default"].folded(), mask)
    AttentionInterface.register("windowed_prefix_reference", attention)
    AttentionMaskInterface.register("windowed_prefix_reference", eager_mask)
    reference.set_attn_implementation("windowed_prefix_reference")
    positions = 5 + torch.arange(ids.shape[1])[None].expand_as(ids)
    with torch.no_grad():
        expected = reference(input_ids=ids, attention_mask=mask, position_ids=positions).logits
        actual = model(input_ids=ids, attention_mask=mask).logits
    difference = _real_token_diff(actual, expected, mask)
    print(f"{family} window 4 max|diff|={difference:.2e}")
    assert 4 in attention.windows and model.attachment.windows == tuple(attention.windows)
    assert difference < TOLERANCE


def test_export_refuses_a_prefix_that_peft_would_slide_out_of_the_window(tmp_path):
    base = family_model("Mistral", sliding_window=12)
    model = MAKERS["p_tuning_v2"](copy.deepcopy(base)).eval()  # prefix length 5
    _trained_like(model)
    ids, mask = right_padded_batch()  # 7 tokens: 5 + 7 = 12 fits the window
    for max_length in (None, 8):
        with pytest.raises(ValueError, match=r"sliding_window=12\).*max_length=N with N <= 7"):
            model.export_peft(tmp_path / "refused", max_length=max_length)
    model.export_peft(tmp_path, max_length=7)
    peft_model = PeftModel.from_pretrained(base, tmp_path).eval()
    with torch.no_grad():
        assert _real_token_diff(model(input_ids=ids, attention_mask=mask).logits,
                                peft_model(input_ids=ids, attention_mask=mask).logits, mask) < TOLERANCE
        # One token more and PEFT's prefix leaves the last query's window: the two now differ.
        longer = torch.cat([ids, ids[:, :1]], dim=1)
        ours, theirs = model(input_ids=longer).logits, peft_model(input_ids=longer).logits
    assert (ours[:, -1] - theirs[:, -1]).abs().max() > 1e-3
