"""A model that passes its attention no mask still masks the empty slots of a shorter prefix."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY_CONFIGS
from transformers import AutoModelForSeq2SeqLM

from prefixes import PrefixConfig, PrefixTuningModel


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_mixed_prefix_lengths_without_an_attention_mask_equal_each_example_alone(attention):
    # No attention_mask: T5 passes its attention none, and eager attention adds the mask the
    # prefix brings to the scores, so that mask must be additive, not boolean.
    torch.manual_seed(0)
    base = AutoModelForSeq2SeqLM.from_config(TINY_CONFIGS["t5"](), attn_implementation=attention)
    model = PrefixTuningModel.from_model(base, PrefixConfig(prefix_length=2, prefix_dropout=0.0))
    model.add_adapter("long", PrefixConfig(prefix_length=5, prefix_dropout=0.0))
    model.eval()
    ids = torch.tensor([[5, 6, 7], [5, 6, 7]])
    start = torch.zeros(1, 1, dtype=torch.long)
    with torch.no_grad():
        mixed = model(input_ids=ids, decoder_input_ids=start.expand(2, 1), task_ids=torch.tensor([0, 1])).logits
        for row, name in enumerate(model.adapter_names):
            model.active_adapter = name
            alone = model(input_ids=ids[row:row + 1], decoder_input_ids=start).logits
            assert torch.allclose(mixed[row], alone[0], atol=1e-5), (name, (mixed[row] - alone[0]).abs().max())
