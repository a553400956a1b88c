"""Task formats with the real MiniLM (BERT WordPiece) and SmolLM2 (byte-level BPE) tokenizers."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch

from prefixes.base_models import load_tokenizer
from prefixes.data import (
    CausalGenerationFormat,
    ClassificationFormat,
    DataError,
    Example,
    ExtractiveQAFormat,
    Seq2SeqGenerationFormat,
    TruncationReport,
    collate,
    load_source,
)


@pytest.fixture(scope="module")
def minilm():
    return load_tokenizer("minilm")


@pytest.fixture(scope="module")
def smol():
    return load_tokenizer("smollm2")


# ---- classification ----------------------------------------------------------------------------


def test_classification_ids_labels_and_pairs(minilm):
    fmt = ClassificationFormat(minilm, ["neg", "pos"], max_length=32)
    examples = [Example("a good film", label="pos"), Example("bad", label="neg")]
    features, report = fmt.encode(examples)
    assert features[0] == {
        "input_ids": [101, 1037, 2204, 2143, 102],  # [CLS] a good film [SEP]
        "attention_mask": [1, 1, 1, 1, 1],
        "labels": 1,
    }
    assert features[1]["labels"] == 0
    assert report == TruncationReport(total=2, truncated=0, max_length=32)

    pair = Example("a man sleeps", label="neg", text_pair="a man is awake")
    features, _ = fmt.encode([pair])
    assert features[0]["input_ids"] == minilm("a man sleeps", "a man is awake")["input_ids"]


def test_classification_reports_bbc_truncation(minilm, caplog):
    bbc = load_source("bbc_news", limit=50)
    fmt = ClassificationFormat(minilm, sorted({e.label for e in bbc}), max_length=512)
    features, report = fmt.encode(bbc)
    # 9 of the first 50 business articles run past 512 WordPiece tokens.
    assert report == TruncationReport(total=50, truncated=9, max_length=512)
    assert max(len(f["input_ids"]) for f in features) == 512
    assert "9/50 examples truncated to 512 tokens" in caplog.text


def test_classification_truncates_a_long_pair_within_max_length(minilm):
    fmt = ClassificationFormat(minilm, ["x"], max_length=10)
    long_pair = Example("word " * 20, label="x", text_pair="other " * 20)
    features, report = fmt.encode([long_pair])
    assert len(features[0]["input_ids"]) == 10
    assert report.truncated == 1


def test_classification_unknown_label_names_value_and_allowed_set(minilm):
    fmt = ClassificationFormat(minilm, ["neg", "pos"], max_length=16)
    message = r"Example 1 field 'label' holds 'neutral'.*\['neg', 'pos'\]"
    with pytest.raises(DataError, match=message):
        fmt.encode([Example("ok", label="pos"), Example("meh", label="neutral")])
    with pytest.raises(DataError, match="Example 1 field 'text_pair' is empty"):
        fmt.encode([Example("a", label="pos", text_pair="b"), Example("c", label="pos")])


# ---- causal generation -------------------------------------------------------------------------


def test_causal_loss_mask_covers_exactly_the_target_and_eos(smol):
    fmt = CausalGenerationFormat(smol, max_length=64, template="Q: {source}\nA:")
    example = Example("What is the capital of France?", target=" Paris")
    (feature,), report = fmt.encode([example])
    prompt = smol("Q: What is the capital of France?\nA:", add_special_tokens=False)["input_ids"]
    target = smol(" Paris", add_special_tokens=False)["input_ids"] + [smol.eos_token_id]
    assert feature["input_ids"] == prompt + target
    assert feature["labels"] == [-100] * len(prompt) + target
    trained = [t for t, label in zip(feature["input_ids"], feature["labels"]) if label != -100]
    assert smol.decode(trained) == " Paris<|im_end|>"
    assert report.truncated == 0
    # The training prompt is token-for-token the generation prompt.
    assert fmt.encode_prompts([example]) == [
        {"input_ids": prompt, "attention_mask": [1] * len(prompt)}
    ]


def test_causal_truncates_the_source_from_the_left_and_keeps_the_target(smol):
    fmt = CausalGenerationFormat(smol, max_length=16, template="Q: {source}\nA:")
    words = "one two three four five six seven eight nine ten eleven twelve"
    (feature,), report = fmt.encode([Example(words, target=" yes")])
    assert len(feature["input_ids"]) == 16
    assert smol.decode(feature["input_ids"]) == (
        "Q: four five six seven eight nine ten eleven twelve\nA: yes<|im_end|>"
    )
    assert sum(label != -100 for label in feature["labels"]) == 2  # " yes" + EOS
    assert report == TruncationReport(total=1, truncated=1, max_length=16)


def test_causal_max_target_length_cuts_the_target_and_reserves_prompt_room(smol):
    fmt = CausalGenerationFormat(smol, max_length=20, max_target_length=3)
    example = Example("hello", target=" one two three four")
    (feature,), report = fmt.encode([example])
    trained = [t for t, label in zip(feature["input_ids"], feature["labels"]) if label != -100]
    assert [smol.decode([t]) for t in trained] == [" one", " two", " three"]
    assert report.truncated == 1
    long = Example("word " * 30, target="x")
    (prompt,) = fmt.encode_prompts([long])
    assert len(prompt["input_ids"]) == 20 - 3


def test_causal_rejects_a_missing_target_and_a_bad_template(smol):
    fmt = CausalGenerationFormat(smol, max_length=16)
    with pytest.raises(DataError, match="Example 0 field 'target' is empty"):
        fmt.encode([Example("no target")])
    with pytest.raises(DataError, match="must contain '{source}' exactly once"):
        CausalGenerationFormat(smol, max_length=16, template="Q: {text}")
    with pytest.raises(DataError, match="max_length=4 leaves no room"):
        CausalGenerationFormat(smol, max_length=4, max_target_length=4)


# ---- seq2seq -----------------------------------------------------------------------------------


def test_seq2seq_inputs_labels_and_truncation(minilm):
    fmt = Seq2SeqGenerationFormat(minilm, max_length=8, max_target_length=4, template="q: {source}")
    examples = [Example("short", target="ok"), Example("short", target="a much longer reply")]
    features, report = fmt.encode(examples)
    assert features[0] == {
        "input_ids": minilm("q: short")["input_ids"],
        "attention_mask": [1] * len(minilm("q: short")["input_ids"]),
        "labels": minilm(text_target="ok")["input_ids"],
    }
    assert len(features[1]["labels"]) == 4
    assert report == TruncationReport(total=2, truncated=1, max_length=8)
    assert fmt.encode_prompts(examples[:1]) == [
        {k: v for k, v in features[0].items() if k != "labels"}
    ]


# ---- extractive QA -----------------------------------------------------------------------------

CONTEXT = "The cat sat on the mat. It lives in Paris with Bob."


def test_qa_positions_point_at_the_answer_tokens(minilm):
    fmt = ExtractiveQAFormat(minilm, max_length=64)
    example = Example("Where does the cat live?", text_pair=CONTEXT,
                      answers=(("Paris", CONTEXT.index("Paris")),))
    (feature,), report = fmt.encode([example])
    start, end = feature["start_positions"], feature["end_positions"]
    assert minilm.decode(feature["input_ids"][start : end + 1]) == "paris"
    assert fmt.decode_span(example, start, end) == "Paris"
    assert fmt.decode_span(example, 1, 2) == ""  # question tokens are not an answer
    assert report == TruncationReport(total=1, truncated=0, max_length=64, answers_lost=0)


def test_qa_answer_longer_than_a_window_is_counted_and_points_at_cls(minilm):
    # 12 tokens leave 7 of context per window beside "Who?" and 3 special tokens; the answer takes 8.
    fmt = ExtractiveQAFormat(minilm, max_length=12)
    answer = "sat on the mat. It lives"
    example = Example("Who?", text_pair=CONTEXT, answers=((answer, CONTEXT.index(answer)),))
    unanswerable = Example("Why?", text_pair="No reason.", answers=())
    features, report = fmt.encode([example, unanswerable])
    assert features.windows.example == [0, 0, 0, 0, 1]
    assert {(f["start_positions"], f["end_positions"]) for f in features} == {(0, 0)}
    assert report == TruncationReport(total=2, truncated=1, max_length=12, answers_lost=1)


def test_qa_rejects_wrong_offsets_and_questions_without_room(minilm):
    fmt = ExtractiveQAFormat(minilm, max_length=12)
    wrong = Example("Who?", text_pair=CONTEXT, answers=(("Bob", 3),))
    with pytest.raises(DataError, match=r"Example 0 field 'answers' holds \('Bob', 3\).*' ca'"):
        fmt.encode([wrong])
    long_question = Example("word " * 20, text_pair=CONTEXT, answers=())
    with pytest.raises(DataError, match="Example 0 field 'text' .* takes 20 tokens"):
        fmt.encode([long_question])


# ---- collate -----------------------------------------------------------------------------------


def test_collate_pads_each_key_with_its_own_value():
    features = [
        {"input_ids": [5, 6, 7], "attention_mask": [1, 1, 1], "labels": [-100, 6, 7], "start": 2},
        {"input_ids": [8], "attention_mask": [1], "labels": [8], "start": 0},
    ]
    right = collate(features, pad_token_id=0)
    assert right["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert right["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert right["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]
    assert right["start"].tolist() == [2, 0]
    assert all(t.dtype == torch.long for t in right.values())
    left = collate(features, pad_token_id=2, padding_side="left")
    assert left["input_ids"].tolist() == [[5, 6, 7], [2, 2, 8]]
    assert left["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]
    with pytest.raises(ValueError, match="different keys"):
        collate([{"input_ids": [1]}, {"labels": [1]}], pad_token_id=0)


def test_collate_stacks_classification_labels(minilm):
    fmt = ClassificationFormat(minilm, ["neg", "pos"], max_length=16)
    examples = [Example("good", label="pos"), Example("not good at all", label="neg")]
    features, _ = fmt.encode(examples)
    batch = collate(features, pad_token_id=minilm.pad_token_id)
    assert batch["labels"].tolist() == [1, 0]
    assert batch["input_ids"].shape == (2, 6)  # [CLS] not good at all [SEP]
