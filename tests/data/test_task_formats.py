"""NLI, extractive QA and multiple choice formats on the real MiniLM tokenizer and vendored data."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from prefixes.base_models import load_tokenizer
from prefixes.data import (
    ClassificationFormat,
    DataError,
    Example,
    ExtractiveQAFormat,
    MultipleChoiceFormat,
    collate,
    load_source,
)
from prefixes.metrics import squad_scores_from_logits


@pytest.fixture(scope="module")
def minilm():
    return load_tokenizer("minilm")


def test_nli_pairs_carry_segment_ids_and_single_texts_do_not(minilm):
    snli = load_source("snli", limit=8)
    fmt = ClassificationFormat(minilm, ["entailment", "neutral", "contradiction"], max_length=128)
    features, report = fmt.encode(snli)
    expected = minilm(snli[0].text, snli[0].text_pair)
    assert features[0]["input_ids"] == expected["input_ids"]
    assert features[0]["token_type_ids"] == expected["token_type_ids"] and 1 in features[0]["token_type_ids"]
    assert [f["labels"] for f in features[:3]] == [1, 0, 2]
    assert report.truncated == 0
    single, _ = fmt.encode([Example("a film", label="neutral")])
    assert set(single[0]) == {"input_ids", "attention_mask", "labels"}


def test_nli_label_outside_the_set_names_file_row_and_field(minilm):
    fmt = ClassificationFormat(minilm, ["entailment", "neutral", "contradiction"], max_length=32)
    bad = [Example("a", text_pair="b", label="neutral"), Example("c", text_pair="d", label="maybe")]
    with pytest.raises(DataError, match=r"train.jsonl row 2 field 'label' holds 'maybe'"):
        fmt.encode(bad, origin="File train.jsonl")


def test_xquad_answers_decode_from_one_hot_logits_to_full_scores(minilm):
    qa = load_source("xquad_en", limit=20)
    fmt = ExtractiveQAFormat(minilm, max_length=384)
    features, report = fmt.encode(qa)
    offsets = fmt.context_offsets(qa)
    assert [len(o) for o in offsets] == [len(f["input_ids"]) for f in features]
    starts, ends = [], []
    for feature in features:
        width = len(feature["input_ids"])
        starts.append([10.0 if i == feature["start_positions"] else 0.0 for i in range(width)])
        ends.append([10.0 if i == feature["end_positions"] else 0.0 for i in range(width)])
    golds = [[text for text, _ in e.answers] for e in qa]
    contexts = [e.text_pair for e in qa]
    scores = squad_scores_from_logits(starts, ends, offsets, contexts, golds)
    assert report.answers_lost == 0 and scores == {"exact_match": 100.0, "f1": 100.0}


def test_qa_bad_offsets_and_missing_answers_name_the_origin_row(minilm):
    fmt = ExtractiveQAFormat(minilm, max_length=64)
    context = "Bob lives in Paris."
    good = Example("Who?", text_pair=context, answers=(("Bob", 0),))
    with pytest.raises(DataError, match=r"eval.jsonl row 2 field 'answers' holds \('Paris', 0\)"):
        fmt.encode([good, Example("Where?", text_pair=context, answers=(("Paris", 0),))], origin="File eval.jsonl")
    with pytest.raises(DataError, match=r"eval.jsonl row 1 field 'answers' is None"):
        fmt.encode([Example("Where?", text_pair=context)], origin="File eval.jsonl")


def test_multiple_choice_encodes_each_question_choice_pair(minilm):
    mc = load_source("commonsense_qa", limit=4)
    fmt = MultipleChoiceFormat(minilm, ["A", "B", "C", "D", "E"], max_length=64)
    features, report = fmt.encode(mc)
    first = features[0]
    assert len(first["input_ids"]) == 5 and first["labels"] == 0
    for row, choice in enumerate(mc[0].choices):
        expected = minilm(mc[0].text, choice)
        assert first["input_ids"][row] == expected["input_ids"]
        assert first["token_type_ids"][row] == expected["token_type_ids"]
    batch = collate(features, pad_token_id=minilm.pad_token_id)
    width = max(len(row) for f in features for row in f["input_ids"])
    assert batch["input_ids"].shape == (4, 5, width) and batch["labels"].tolist() == [0, 0, 1, 0]
    assert batch["attention_mask"][0, 0].sum() == len(first["input_ids"][0])
    assert report.total == 4 and report.truncated == 0


def test_multiple_choice_bad_input_names_origin_row_and_field(minilm):
    fmt = MultipleChoiceFormat(minilm, ["A", "B", "C"], max_length=32)
    ok = Example("q?", choices=("x", "y", "z"), label="B")
    with pytest.raises(DataError, match=r"dev.jsonl row 2 field 'choices' holds 2 choices; this format takes exactly 3"):
        fmt.encode([ok, Example("q?", choices=("x", "y"), label="A")], origin="File dev.jsonl")
    with pytest.raises(DataError, match=r"dev.jsonl row 1 field 'choices' holds no choices"):
        fmt.encode([Example("q?", label="A")], origin="File dev.jsonl")
    with pytest.raises(DataError, match=r"Example 0 field 'label' holds 'D', which is not among the choice names"):
        fmt.encode([Example("q?", choices=("x", "y", "z"), label="D")])
    with pytest.raises(DataError, match="at least two choices"):
        MultipleChoiceFormat(minilm, ["A"], max_length=32)
