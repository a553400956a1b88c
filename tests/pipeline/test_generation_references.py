"""The evaluate stage scores one generation per test source against all of its references."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import sacrebleu
import torch

from pipeline.evaluate import score_test_generations
from pipeline.params import load_params
from prefixes.base_models import load_tokenizer
from prefixes.data import Example

REPO = Path(__file__).resolve().parents[2]
REPLY = "by the river there is an inn"


class _FixedReply:
    """Generates the same reply to every prompt, so the scores depend on the references alone."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.prompts = 0
        # what the batched generation path reads off a model: a decoder-only base with an EOS id
        self.base_model = torch.nn.Linear(1, 1)
        self.base_model.config = SimpleNamespace(is_encoder_decoder=False)
        self.base_model.generation_config = SimpleNamespace(eos_token_id=tokenizer.eos_token_id)

    def generate(self, input_ids, **settings):
        self.prompts += len(input_ids)
        reply = self.tokenizer(REPLY, add_special_tokens=False, return_tensors="pt")["input_ids"]
        return torch.cat([input_ids, reply.expand(len(input_ids), -1)], dim=1)


def test_a_reply_matching_any_reference_of_its_source_scores_as_a_match():
    params = load_params(REPO / "params.yaml")
    model = _FixedReply(load_tokenizer("smollm2"))
    test = [Example("inn?", target="the inn lies by the river"), Example("inn?", target=REPLY),
            Example("pub?", target="a cheap pub")]
    scores = score_test_generations(params, params.tasks["chitchat"], model, test)

    assert model.prompts == scores["generated_examples"] == 2  # one generation per source
    # ROUGE-L: 1 against the second reference of "inn?", 0 against "a cheap pub".
    assert scores["rouge_l"] == pytest.approx(0.5)
    streams = [["the inn lies by the river", "a cheap pub"], [REPLY, None]]
    assert scores["bleu"] == sacrebleu.corpus_bleu([REPLY, REPLY], streams).score
