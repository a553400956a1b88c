"""The README's library example on raw data: trainers take dicts or a datasets.Dataset of Example fields."""

from __future__ import annotations

import copy
import math
from types import SimpleNamespace

import pytest
import torch
from datasets import Dataset
from transformers import LlamaConfig, LlamaForCausalLM

from prefixes import ModelConfig, PrefixConfig, PrefixTuningModel, PromptConfig, PromptTuningModel
from prefixes.base_models import load_tokenizer
from prefixes.data import ClassificationFormat, DataError, Example, ExtractiveQAFormat, MultipleChoiceFormat
from prefixes.data.generation import CausalGenerationFormat
from prefixes.data.raw import as_features
from prefixes.train import PrefixTrainer, PromptTrainer

pytestmark = pytest.mark.integration

POSITIVE = ["a wonderful film", "great acting and a lovely story", "I loved it", "brilliant and moving"]
NEGATIVE = ["a dreadful film", "awful acting and a dull story", "I hated it", "boring and painful"]
ROWS = [{"text": text, "label": "pos"} for text in POSITIVE] + [{"text": text, "label": "neg"} for text in NEGATIVE]
CONFIG = {"max_steps": 10, "batch_size": 4, "learning_rate": 1e-2, "log_every": 1, "seed": 3, "warmup_ratio": 0.0}


@pytest.fixture(scope="module")
def minilm_p_tuning_v2():
    """A fresh P-tuning v2 model over MiniLM with named labels; tests train deep copies of it."""
    torch.manual_seed(0)
    return PrefixTuningModel(
        ModelConfig(model_name_or_path="minilm", task_type="text_classification", num_labels=2, label_names=["neg", "pos"]),
        PrefixConfig(prefix_length=4, reparameterization=False),
    )


def _losses(result) -> list[float]:
    return [row["loss"] for row in result.history["train"]]


def test_minilm_learns_from_dicts_with_label_names_and_a_dict_config(minilm_p_tuning_v2):
    model = copy.deepcopy(minilm_p_tuning_v2)
    result = PrefixTrainer(model, CONFIG).train(ROWS, ROWS[:4])
    losses = _losses(result)
    assert result.global_step == 10 and len(losses) == 10
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3
    assert 0.0 <= result.best_metrics["eval_accuracy"] <= 1.0


def test_features_and_the_same_raw_rows_train_identically(minilm_p_tuning_v2):
    raw_model, feature_model = copy.deepcopy(minilm_p_tuning_v2), copy.deepcopy(minilm_p_tuning_v2)
    examples = [Example(text=row["text"], label=row["label"]) for row in ROWS]
    features, _ = ClassificationFormat(raw_model.tokenizer, ["neg", "pos"], 508).encode(examples)
    assert as_features(raw_model, ROWS) == features  # 508 = 512 positions less the 4 prefix slots
    config = {**CONFIG, "max_steps": 4}
    raw = PrefixTrainer(raw_model, config).train(ROWS)
    tokenised = PrefixTrainer(feature_model, config).train(features)
    assert _losses(raw) == _losses(tokenised)
    assert raw.train_loss == tokenised.train_loss
    assert torch.equal(raw_model.adapters["default"].prefix, feature_model.adapters["default"].prefix)


def test_a_datasets_dataset_with_int_labels_trains(minilm_p_tuning_v2):
    model = copy.deepcopy(minilm_p_tuning_v2)
    dataset = Dataset.from_dict({"text": POSITIVE + NEGATIVE, "label": [1] * 4 + [0] * 4})
    assert as_features(model, dataset) == as_features(model, ROWS)  # label 1 is "pos", as the model names it
    result = PrefixTrainer(model, CONFIG).train(dataset)
    losses = _losses(result)
    assert result.global_step == 10
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3


def test_prompt_trainer_takes_raw_rows_when_the_model_has_no_label_names():
    torch.manual_seed(0)
    model = PromptTuningModel(
        ModelConfig(model_name_or_path="minilm", task_type="text_classification", num_labels=2),
        PromptConfig(num_virtual_tokens=4),
    )
    dataset = Dataset.from_dict({"text": POSITIVE + NEGATIVE, "label": [1] * 4 + [0] * 4})
    named = [{"text": row["text"], "label": f"LABEL_{row['label']}"} for row in dataset]  # transformers' default names
    assert as_features(model, dataset) == as_features(model, named)
    assert [feature["labels"] for feature in as_features(model, dataset)] == [1] * 4 + [0] * 4
    before = model.adapters["default"].embedding.detach().clone()
    result = PromptTrainer(model, {**CONFIG, "max_steps": 2}).train(dataset)
    assert result.global_step == 2 and math.isfinite(result.train_loss)
    assert not torch.equal(before, model.adapters["default"].embedding)


def test_raw_rows_are_checked_and_name_the_row_and_field(minilm_p_tuning_v2):
    model = minilm_p_tuning_v2
    with pytest.raises(DataError, match=r"Example 1 field 'label' holds 'neutral'.*\['neg', 'pos'\]"):
        as_features(model, [{"text": "fine", "label": "pos"}, {"text": "meh", "label": "neutral"}])
    with pytest.raises(DataError, match=r"Example 0 field 'label' holds 2; .*an id below 2"):
        as_features(model, [{"text": "fine", "label": 2}])
    with pytest.raises(DataError, match=r"Example 0 field 'sentence' is not an example field"):
        as_features(model, [{"sentence": "fine", "label": 1}])
    with pytest.raises(ValueError, match=r"training_config key 'epochs' is not a TrainingConfig field.*num_epochs"):
        PrefixTrainer(model, {"epochs": 2})


@pytest.fixture(scope="module")
def causal_prefix():
    """A 2-layer random Llama with SmolLM2's tokenizer: the causal format on a real tokenizer, in seconds."""
    tokenizer = load_tokenizer("smollm2")
    torch.manual_seed(0)
    base = LlamaForCausalLM(LlamaConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, num_key_value_heads=2,
                                        intermediate_size=64, vocab_size=len(tokenizer), max_position_embeddings=256))
    return PrefixTuningModel.from_model(base, PrefixConfig(prefix_length=2, reparameterization=False),
                                        tokenizer=tokenizer, task_type="text_generation")


GENERATION = [{"text": "Capital of France?", "target": "Paris"}, {"text": "Capital of Italy?", "target": "Rome"}]


def test_a_causal_lm_learns_targets_from_text_target_dicts(causal_prefix):
    model = copy.deepcopy(causal_prefix)
    features = as_features(model, GENERATION)
    examples = [Example(text=row["text"], target=row["target"]) for row in GENERATION]
    expected, _ = CausalGenerationFormat(model.tokenizer, 254).encode(examples)  # 256 positions less 2 prefix slots
    assert features == expected
    config = {**CONFIG, "max_steps": 8, "batch_size": 2, "learning_rate": 3e-2}
    losses = _losses(PrefixTrainer(model, config).train(GENERATION, GENERATION))
    assert len(losses) == 8 and sum(losses[-2:]) < sum(losses[:2])


def test_causal_features_without_labels_learn_every_real_token(causal_prefix):
    rows = [{"input_ids": [5, 6, 7, 0], "attention_mask": [1, 1, 1, 0]}, {"input_ids": [8, 9]}]
    assert as_features(causal_prefix, rows) == [
        {"input_ids": [5, 6, 7, 0], "attention_mask": [1, 1, 1, 0], "labels": [5, 6, 7, -100]},
        {"input_ids": [8, 9], "labels": [8, 9]},
    ]
    labelled = [{"input_ids": [5, 6], "labels": [-100, 6]}]
    assert as_features(causal_prefix, labelled) is labelled  # features with labels pass through untouched


def test_qa_and_multiple_choice_rows_use_the_existing_formats():
    torch.manual_seed(0)
    qa = PrefixTuningModel(ModelConfig(model_name_or_path="minilm", task_type="question_answering"),
                           PrefixConfig(prefix_length=2, reparameterization=False))
    context = "The match in Leeds ended two all."
    squad_row = {"text": "Where was the match?", "context": context, "answers": {"text": ["Leeds"], "answer_start": [13]}}
    expected, _ = ExtractiveQAFormat(qa.tokenizer, 510).encode(
        [Example(text="Where was the match?", text_pair=context, answers=(("Leeds", 13),))])
    features = as_features(qa, [squad_row])
    assert features == expected and features[0]["start_positions"] > 0
    with pytest.raises(DataError, match=r"Example 0 field 'answers' holds \('Leeds', 12\) but the context has ' Leed' there"):
        as_features(qa, [{**squad_row, "answers": [["Leeds", 12]]}])
    choice_model = SimpleNamespace(task_type="multiple_choice", tokenizer=qa.tokenizer, base_model=qa.base_model, adapters={})
    rows = [{"text": "Where do fish live?", "choices": ["sea", "sky", "desert"], "label": 0},
            {"text": "What is hot?", "choices": ["ice", "fire", "snow"], "label": "B"}]
    examples = [Example(text=row["text"], choices=tuple(row["choices"]), label=label) for row, label in zip(rows, "AB")]
    expected, _ = MultipleChoiceFormat(qa.tokenizer, ["A", "B", "C"], 512).encode(examples)
    assert as_features(choice_model, rows) == expected
    assert [feature["labels"] for feature in expected] == [0, 1] and len(expected[0]["input_ids"]) == 3
