"""Bad data of each task kind stops the pipeline with a DataError naming the file, the row and the field."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace

import pytest
from transformers import AutoTokenizer

from pipeline.params import TaskConfig
from pipeline.tasks import encode_splits
from prefixes.base_models import resolve_model_path
from prefixes.data.example import DataError, Example
from prefixes.data.sources import load_source

CONTEXT = "Bob lives in Paris."


@pytest.fixture(scope="module")
def model():
    """What encode_splits reads of a wrapped model: its tokenizer, position limit and adapters."""
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path("minilm"))
    return SimpleNamespace(tokenizer=tokenizer, base_model=SimpleNamespace(config=SimpleNamespace(max_position_embeddings=512)),
                           adapters={})


def _task(fmt: str) -> TaskConfig:
    return TaskConfig(source="unused", format=fmt, model="minilm", max_length=48)  # type: ignore[arg-type]


def test_nli_label_outside_the_label_set_names_the_prepared_file_and_row(model):
    test = [Example("a", text_pair="b", label="neutral"), Example("c", text_pair="d", label="maybe")]
    with pytest.raises(DataError, match=r"Prepared file test.jsonl row 2 field 'label' holds 'maybe'"):
        encode_splits(_task("classification"), model, ["contradiction", "entailment", "neutral"], {"test": test})


def test_qa_answer_not_in_the_context_names_the_prepared_file_and_row(model):
    train = [Example("Who?", text_pair=CONTEXT, answers=(("Bob", 0),)),
             Example("Where?", text_pair=CONTEXT, answers=(("Rome", 13),))]
    with pytest.raises(DataError, match=r"Prepared file train.jsonl row 2 field 'answers' holds \('Rome', 13\)"):
        encode_splits(_task("extractive_qa"), model, None, {"train": train})


def test_qa_answer_without_its_offset_names_the_file_record_and_column(tmp_path):
    path = tmp_path / "qa.jsonl"
    rows = [{"text": "Who?", "text_pair": CONTEXT, "answers": [{"text": "Bob", "answer_start": 0}]},
            {"text": "Where?", "text_pair": CONTEXT, "answers": [{"text": "Paris"}]}]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(DataError) as error:
        load_source(str(path))
    assert f"File {path} column 'answers' record 2 holds answers [{{'text': 'Paris'}}]" in str(error.value)
    assert "answer_start" in str(error.value)


def test_multiple_choice_with_a_missing_choice_names_the_prepared_file_and_row(model):
    eval_split = [Example("Q?", choices=("a", "b", "c"), label="B"), Example("R?", choices=("a", "b"), label="A")]
    with pytest.raises(DataError, match=r"Prepared file eval.jsonl row 2 field 'choices' holds 2 choices; "
                                        r"this format takes exactly 3"):
        encode_splits(_task("multiple_choice"), model, ["A", "B", "C"], {"eval": eval_split})


def test_multiple_choice_label_outside_the_choice_names_names_the_prepared_file_and_row(model):
    test = [Example("Q?", choices=("a", "b", "c"), label="D")]
    with pytest.raises(DataError, match=r"Prepared file test.jsonl row 1 field 'label' holds 'D'"):
        encode_splits(_task("multiple_choice"), model, ["A", "B", "C"], {"test": test})


@pytest.mark.parametrize("fmt", ["causal_generation", "seq2seq_generation"])
def test_generation_example_without_a_target_names_the_prepared_file_and_row(model, fmt):
    tokenizer = copy.deepcopy(model.tokenizer)
    tokenizer.eos_token = "[SEP]"  # a causal target ends in EOS; MiniLM's tokenizer names none
    model = SimpleNamespace(**{**vars(model), "tokenizer": tokenizer})
    train = [Example("Guten Morgen", target="Good morning"), Example("Danke")]
    with pytest.raises(DataError, match=r"Prepared file train.jsonl row 2 field 'target' is empty"):
        encode_splits(_task(fmt), model, None, {"train": train})
    encoded, reports = encode_splits(_task(fmt), model, None, {"train": train[:1]})
    assert len(encoded["train"]) == 1 and reports["train"]["examples"] == 1
