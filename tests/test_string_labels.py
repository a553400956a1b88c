"""String labels without label_names: the names come from the training data, sorted, and the
artifact records them as given names."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from prefixes import ModelConfig, PrefixConfig, PrefixTuningModel, load_adapter
from prefixes.base_models import resolve_model_path
from prefixes.config import TrainingConfig
from prefixes.data.example import DataError
from prefixes.train import Trainer

TRAIN = [{"text": text, "label": label} for text, label in [
    ("a wonderful film", "positive"), ("a dreadful film", "negative"), ("I loved it", "positive"),
    ("I hated it", "negative"), ("great acting", "positive"), ("boring plot", "negative")]]


@pytest.fixture(scope="module")
def tiny_bert_dir(tmp_path_factory):
    """A tiny random BERT over the embedded MiniLM vocabulary, saved with its tokenizer: raw text in."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path("minilm"))
    torch.manual_seed(0)
    BertForSequenceClassification(BertConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4,
                                             intermediate_size=64, vocab_size=tokenizer.vocab_size)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _model(folder, num_labels: int) -> PrefixTuningModel:
    torch.manual_seed(0)
    config = ModelConfig(model_name_or_path=str(folder), task_type="text_classification", num_labels=num_labels)
    return PrefixTuningModel(config, PrefixConfig(prefix_length=2, reparameterization=False))


def test_string_labels_without_label_names_take_the_datas_sorted_names(tiny_bert_dir, tmp_path):
    model = _model(tiny_bert_dir, 2)
    assert model.label_names() is None
    Trainer(model, TrainingConfig(max_steps=2, batch_size=3, seed=0)).train(TRAIN, TRAIN[:2])
    assert model.label_names() == ["negative", "positive"]
    assert load_adapter(model.save_pretrained(tmp_path / "artifact")).label_names() == ["negative", "positive"]


def test_a_label_count_other_than_num_labels_is_a_clear_error(tiny_bert_dir):
    model = _model(tiny_bert_dir, 3)
    with pytest.raises(DataError, match=r"name 2 classes \['negative', 'positive'\], but the model's head has "
                                        r"num_labels=3: set num_labels=2 or pass label_names"):
        Trainer(model, TrainingConfig(max_steps=1, batch_size=3, seed=0)).train(TRAIN)
