"""Our attention-level injection against independent references, per architecture family.

- Causal LMs: the stock model with a transformers KV cache prefilled with the same keys/values and
  positions shifted by the prefix length (how PEFT and the papers define prefix tuning).
- Encoders and seq2seq models: a hand-written eager attention, registered separately, that
  concatenates each site's prefix and builds its own masks from the 2-D padding masks.
- Prompt tuning: the stock model fed the concatenated embeddings by hand.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from conftest import CAUSAL, ENCODERS, SEQ2SEQ, right_padded_batch, tiny_model
from transformers import AttentionInterface, DynamicCache
from transformers.masking_utils import AttentionMaskInterface, eager_mask

from prefixes import PrefixConfig, PrefixTuningModel, PromptConfig, PromptTuningModel

TOLERANCE = 1e-5
PREFIX = 4


def _wrap(arch: str, reparameterization: bool = True):
    base = tiny_model(arch)
    reference = copy.deepcopy(base)
    torch.manual_seed(3)
    model = PrefixTuningModel.from_model(
        base, PrefixConfig(prefix_length=PREFIX, prefix_hidden_size=24, prefix_dropout=0.0, reparameterization=reparameterization)
    ).eval()
    return model, reference, model.adapters["default"].folded()


@pytest.mark.parametrize("arch", CAUSAL)
@pytest.mark.parametrize("reparameterization", [True, False])
def test_causal_lm_matches_prefilled_kv_cache(arch, reparameterization):
    model, reference, prefix = _wrap(arch, reparameterization)
    ids, mask = right_padded_batch()
    batch = ids.shape[0]
    cache = DynamicCache(config=reference.config)
    for layer in range(prefix.shape[1]):  # prefix: (P, layers, 2, kv, D)
        keys = prefix[:, layer, 0].permute(1, 0, 2).unsqueeze(0).expand(batch, -1, -1, -1)
        values = prefix[:, layer, 1].permute(1, 0, 2).unsqueeze(0).expand(batch, -1, -1, -1)
        cache.update(keys.contiguous(), values.contiguous(), layer)
    positions = (PREFIX + torch.arange(ids.shape[1]))[None].expand(batch, -1)
    full_mask = torch.cat([torch.ones(batch, PREFIX, dtype=mask.dtype), mask], dim=1)
    with torch.no_grad():
        expected = reference(input_ids=ids, attention_mask=full_mask, cache=cache, position_ids=positions).logits
        actual = model(input_ids=ids, attention_mask=mask).logits
    real = mask.bool()
    difference = (actual - expected)[real].abs().max().item()
    print(f"{arch} reparameterization={reparameterization} max|diff|={difference:.2e}")
    assert difference < TOLERANCE


class _EagerPrefixReference:
    """Eager attention with the prefix concatenated by hand; site order is the call order."""

    def __init__(self, prefix: torch.Tensor, encoder_mask: torch.Tensor, decoder_length: int | None):
        self.prefix, self.encoder_mask, self.decoder_length = prefix, encoder_mask, decoder_length
        self.calls = 0

    def __call__(self, module, query, key, value, attention_mask, scaling=None, position_bias=None, **kwargs):
        site = self.calls
        self.calls += 1
        batch, heads, q_len, dim = query.shape
        prefix_keys = self.prefix[:, site, 0].permute(1, 0, 2).unsqueeze(0).expand(batch, -1, -1, -1)
        prefix_values = self.prefix[:, site, 1].permute(1, 0, 2).unsqueeze(0).expand(batch, -1, -1, -1)
        key = torch.cat([prefix_keys, key], dim=2)
        value = torch.cat([prefix_values, value], dim=2)
        scores = query @ key.transpose(2, 3) * (scaling if scaling is not None else 1 / math.sqrt(dim))
        k_len = key.shape[2] - PREFIX
        allowed = torch.ones(batch, 1, q_len, k_len, dtype=torch.bool)
        if k_len == self.encoder_mask.shape[1]:  # keys are encoder tokens: hide encoder padding
            allowed = allowed & self.encoder_mask.bool()[:, None, None, :]
        if self.decoder_length is not None and q_len == self.decoder_length and k_len == q_len and site_is_decoder_self(module):
            allowed = allowed & torch.ones(q_len, q_len, dtype=torch.bool).tril()
        if position_bias is not None:
            scores = scores + torch.nn.functional.pad(position_bias, (PREFIX, 0))
        allowed = torch.cat([torch.ones(batch, 1, q_len, PREFIX, dtype=torch.bool), allowed], dim=-1)
        scores = scores.masked_fill(~allowed, float("-inf"))
        output = scores.softmax(-1) @ value
        return output.transpose(1, 2).contiguous(), None


def site_is_decoder_self(module) -> bool:
    return bool(getattr(module, "is_causal", False))


def _reference_forward(reference, reference_attention, name, **inputs):
    AttentionInterface.register(name, reference_attention)
    AttentionMaskInterface.register(name, eager_mask)
    reference.set_attn_implementation(name)
    with torch.no_grad():
        return reference(**inputs)


@pytest.mark.parametrize("arch", ENCODERS)
def test_encoder_matches_hand_written_attention(arch):
    model, reference, prefix = _wrap(arch)
    ids, mask = right_padded_batch()
    pad_id = reference.config.pad_token_id
    ids = ids.masked_fill(mask == 0, pad_id)
    # Positions after the prefix: BERT counts from 0, RoBERTa from padding_idx + 1 (pads keep padding_idx).
    positions = PREFIX + torch.arange(ids.shape[1])[None].expand_as(ids)
    if arch == "roberta":
        positions = torch.where(mask.bool(), positions + pad_id + 1, pad_id)
    attention = _EagerPrefixReference(prefix, mask, decoder_length=None)
    expected = _reference_forward(
        reference, attention, f"reference_{arch}", input_ids=ids, attention_mask=mask, position_ids=positions
    ).logits
    with torch.no_grad():
        actual = model(input_ids=ids, attention_mask=mask).logits
    difference = (actual - expected).abs().max().item()
    print(f"{arch} max|diff|={difference:.2e}")
    assert attention.calls == reference.config.num_hidden_layers
    assert difference < TOLERANCE


@pytest.mark.parametrize("arch", SEQ2SEQ)
def test_seq2seq_matches_hand_written_attention(arch):
    model, reference, prefix = _wrap(arch)
    assert model.layout.site_kinds == ("self", "self", "self", "cross", "self", "cross")
    ids, mask = right_padded_batch(length=7)
    decoder_ids = torch.randint(4, 90, (ids.shape[0], 5), generator=torch.Generator().manual_seed(5))
    attention = _EagerPrefixReference(prefix, mask, decoder_length=5)
    expected = _reference_forward(
        reference, attention, f"reference_{arch}", input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids
    ).logits
    with torch.no_grad():
        actual = model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids).logits
    difference = (actual - expected).abs().max().item()
    print(f"{arch} max|diff|={difference:.2e}")
    assert attention.calls == 6
    assert difference < TOLERANCE


@pytest.mark.parametrize("arch", CAUSAL + ENCODERS + SEQ2SEQ)
def test_prompt_tuning_equals_concatenated_embeddings(arch):
    base = tiny_model(arch)
    reference = copy.deepcopy(base)
    model = PromptTuningModel.from_model(base, PromptConfig(num_virtual_tokens=3)).eval()
    ids, mask = right_padded_batch()
    prompt = model.adapters["default"]().detach()
    embeds = torch.cat([prompt.expand(ids.shape[0], -1, -1), reference.get_input_embeddings()(ids)], dim=1)
    full_mask = torch.cat([torch.ones(ids.shape[0], 3, dtype=mask.dtype), mask], dim=1)
    extra = {"decoder_input_ids": ids[:, :4]} if arch in SEQ2SEQ else {}
    with torch.no_grad():
        expected = reference(inputs_embeds=embeds, attention_mask=full_mask, **extra).logits
        actual = model(input_ids=ids, attention_mask=mask, **extra).logits
    assert (actual - expected).abs().max().item() < TOLERANCE
