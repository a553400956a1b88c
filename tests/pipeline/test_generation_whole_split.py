"""Generation is scored on every test source by default, in batches, greedy or with beam search."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import saved_tiny_lm

from pipeline.evaluate import generation_scores, score_test_generations
from pipeline.params import EvaluateSettings, load_params
from pipeline.tasks import task_format
from prefixes.config import ModelConfig
from prefixes.data.example import Example
from prefixes.generate import generate_batched
from prefixes.methods.full_finetune.wrapper import FullFinetuneModel

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    config = ModelConfig(model_name_or_path=str(saved_tiny_lm(tmp_path_factory.mktemp("lm"))), task_type="text_generation")
    return FullFinetuneModel(config).eval()


def test_every_test_source_is_generated_by_default(model):
    params = load_params(REPO / "params.yaml")
    assert params.evaluate.generation_examples is None and EvaluateSettings().generation_examples is None
    params = params.model_copy(update={"evaluate": params.evaluate.model_copy(update={"max_new_tokens": 2})})
    # 30 sources, the last with two replies: more than the 16 (params.yaml) and 24 (schema) generated before.
    split = [Example(text=f"message number {n}", target=f"reply {n}") for n in range(30)]
    split.append(Example(text="message number 29", target="another reply"))
    scores = score_test_generations(params, params.tasks["chitchat"], model, split)
    assert scores["generated_examples"] == 30
    assert {"bleu", "chrf", "rouge_1", "rouge_2", "rouge_l", "rouge_lsum"} <= set(scores)
    capped = params.model_copy(update={"evaluate": params.evaluate.model_copy(update={"generation_examples": 5})})
    assert score_test_generations(capped, capped.tasks["chitchat"], model, split)["generated_examples"] == 5


def test_beam_search_is_a_setting(model):
    params = load_params(REPO / "params.yaml")
    task = params.tasks["chitchat"]
    examples = [Example(text=text, target="fine thanks") for text in ("hello there", "how are you doing today")]
    beams = params.model_copy(update={"evaluate": EvaluateSettings(max_new_tokens=4, num_beams=3)})
    scores = generation_scores(beams, task, model, examples, [e.target for e in examples])
    prompts = [row["input_ids"] for row in task_format(task, model.tokenizer, None).encode_prompts(examples)]
    expected = generate_batched(model, prompts, pad_token_id=model.tokenizer.pad_token_id, batch_size=1,
                                max_new_tokens=4, do_sample=False, num_beams=3)
    texts = [text.strip() for text in model.tokenizer.batch_decode(expected, skip_special_tokens=True)]
    assert [row["prediction"] for row in scores["sample_predictions"]] == texts
    with pytest.raises(ValueError, match="num_beams"):
        EvaluateSettings(num_beams=0)
