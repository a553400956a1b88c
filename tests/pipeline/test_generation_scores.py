"""Generated-text metrics come from batched generation, for the baselines too, as one at a time."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import saved_tiny_lm

from pipeline.evaluate import generation_scores
from pipeline.params import load_params
from prefixes.config import ModelConfig
from prefixes.data.example import Example
from prefixes.methods.full_finetune.wrapper import FullFinetuneModel
from prefixes.methods.lora.config import LoraConfig
from prefixes.methods.lora.wrapper import LoraModel

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = [Example(text=text, target="fine thanks") for text in
            ("hello there", "how are you doing today", "what is the weather like in the hills", "ok", "tell me more")]


@pytest.mark.parametrize("baseline", ["full_finetune", "lora"])
def test_baseline_generation_scores_in_batches_equal_one_at_a_time(tmp_path, baseline):
    config = ModelConfig(model_name_or_path=str(saved_tiny_lm(tmp_path)), task_type="text_generation")
    model = (FullFinetuneModel(config) if baseline == "full_finetune" else LoraModel(config, LoraConfig())).eval()
    params = load_params(REPO / "params.yaml")
    task = params.tasks["chitchat"]  # a causal generation task with a template

    def scores(batch_size: int) -> dict:
        training = params.training.model_copy(update={"eval_batch_size": batch_size})
        return generation_scores(params.model_copy(update={"training": training}), task, model, EXAMPLES,
                                 [example.target for example in EXAMPLES])

    batched, alone = scores(4), scores(1)
    assert batched == alone
    assert batched["generated_examples"] == len(EXAMPLES)
    assert isinstance(batched["bleu"], float) and isinstance(batched["rouge_l"], float)
    assert [row["source"] for row in batched["sample_predictions"]] == [e.text for e in EXAMPLES[:3]]
    assert all(row["prediction"] for row in batched["sample_predictions"])  # random weights still say something
