"""The committed chitchat prefixes answer their input: greedy replies differ between messages."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from prefixes.registry import Registry

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = "User: {}\nAssistant: "  # params.yaml's chitchat template
MESSAGES = ["What is your favourite food?", "Do you like football?", "Where do you live?",
            "Can you recommend a good book?"]


@pytest.mark.parametrize("method", ["prefix", "p_tuning_v2", "prompt"])
def test_greedy_replies_depend_on_the_message(method):
    model = Registry(REPO / "registry").get("chitchat", method=method, version="candidate").load().eval()
    replies = []
    for message in MESSAGES:
        ids = model.tokenizer(TEMPLATE.format(message), return_tensors="pt")["input_ids"]
        with torch.no_grad():
            output = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=12,
                                    do_sample=False, pad_token_id=model.tokenizer.pad_token_id)
        replies.append(model.tokenizer.decode(output[0, ids.shape[1]:], skip_special_tokens=True).strip())
    assert all(replies), replies
    assert len(set(replies)) >= 3, replies  # an input-independent reply would be one string
