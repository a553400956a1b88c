"""Extractive QA over contexts longer than max_length: overlapping windows (a document stride), the
answer the best span over them, SQuAD rows taken as they come, and EM/F1 in the trainer's evaluation."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer, BertConfig

from prefixes import PrefixConfig, PrefixTuningModel
from prefixes.base_models import resolve_model_path
from prefixes.data.example import DataError, Example
from prefixes.data.formats import ExtractiveQAFormat, collate
from prefixes.data.raw import as_features
from prefixes.data.sources import load_source
from prefixes.evaluate import window_scores
from prefixes.metrics import decode_answers, squad_scores_from_logits
from prefixes.train import Trainer

FILLER = " ".join(f"Sentence {n} tells of nothing in particular." for n in range(30))
CONTEXT = f"{FILLER} The treasure lies under the old oak tree in Lisbon."
ANSWER = "Lisbon"
QUESTION = "Where does the treasure lie?"
SQUAD_ROW = {"id": "5733be284776f41900661182", "title": "Treasure", "question": QUESTION, "context": CONTEXT,
             "answers": {"text": [ANSWER], "answer_start": [CONTEXT.index(ANSWER)]}}


@pytest.fixture(scope="module")
def minilm():
    return AutoTokenizer.from_pretrained(resolve_model_path("minilm"))


def _example() -> Example:
    return Example(QUESTION, text_pair=CONTEXT, answers=((ANSWER, CONTEXT.index(ANSWER)),))


def _one_hot_logits(features) -> tuple[list[list[float]], list[list[float]]]:
    """Logits that point at each window's own target (token 0 where the window misses the answer)."""
    starts = [[5.0 if i == f["start_positions"] else 0.0 for i in range(len(f["input_ids"]))] for f in features]
    ends = [[5.0 if i == f["end_positions"] else 0.0 for i in range(len(f["input_ids"]))] for f in features]
    return starts, ends


def test_answer_past_max_length_is_found_in_a_later_window(minilm):
    fmt = ExtractiveQAFormat(minilm, max_length=64)
    assert len(minilm(QUESTION, CONTEXT)["input_ids"]) > 200  # the answer sits far past 64 tokens
    features, report = fmt.encode([_example()])
    assert report.answers_lost == 0 and report.truncated == 0
    assert len(features) > 5 and set(features.windows.example) == {0}
    holding = [f for f in features if f["start_positions"]]
    assert holding, "no window holds the answer"
    for feature in holding:
        span = feature["input_ids"][feature["start_positions"] : feature["end_positions"] + 1]
        assert minilm.decode(span) == "lisbon"
    starts, ends = _one_hot_logits(features)
    windows = features.windows
    assert decode_answers(starts, ends, windows.offsets, windows.example, windows.contexts) == [ANSWER]
    assert window_scores(windows, starts, ends) == {"exact_match": 100.0, "f1": 100.0}
    offsets = fmt.context_offsets([_example()])
    scores = squad_scores_from_logits(starts, ends, offsets, [CONTEXT], [[ANSWER]], windows=features.windows.example)
    assert scores == {"exact_match": 100.0, "f1": 100.0}


def test_windows_overlap_by_the_doc_stride(minilm):
    fmt = ExtractiveQAFormat(minilm, max_length=64, doc_stride=16)
    features, _ = fmt.encode([_example()])
    first, second = features.windows.offsets[0], features.windows.offsets[1]
    first_context = [span for span in first if span is not None]
    second_context = [span for span in second if span is not None]
    assert first_context[-16:] == second_context[:16]


def test_the_best_window_wins_across_windows(minilm):
    features, _ = ExtractiveQAFormat(minilm, max_length=64).encode([_example()])
    starts, ends = _one_hot_logits(features)
    # Window 0 points confidently at its own first context token, with a higher score than the answer's window.
    first_token = next(i for i, span in enumerate(features.windows.offsets[0]) if span is not None)
    starts[0][first_token] = ends[0][first_token] = 9.0
    windows = features.windows
    assert decode_answers(starts, ends, windows.offsets, windows.example, windows.contexts) == [CONTEXT.split()[0]]


def test_question_leaving_no_room_beyond_the_stride_is_refused(minilm):
    fmt = ExtractiveQAFormat(minilm, max_length=32, doc_stride=10)
    with pytest.raises(DataError, match=r"^Example 0 field 'text' \(the question\) takes 20 tokens, leaving 9 context "
                                        r"tokens per window within max_length=32, not more than the windows' overlap "
                                        r"doc_stride=10: raise max_length"):
        fmt.encode([Example("word " * 20, text_pair=CONTEXT, answers=())])


def _tiny_qa(tokenizer):
    torch.manual_seed(0)
    config = BertConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, intermediate_size=64,
                        vocab_size=tokenizer.vocab_size, max_position_embeddings=128)
    base = AutoModelForQuestionAnswering.from_config(config).eval()
    return PrefixTuningModel.from_model(base, PrefixConfig(prefix_length=2, prefix_dropout=0.0), tokenizer=tokenizer)


def test_squad_rows_are_taken_as_they_come(minilm, tmp_path):
    model = _tiny_qa(minilm)
    features = as_features(model, [SQUAD_ROW], max_length=64)
    expected, _ = ExtractiveQAFormat(minilm, 64).encode([_example()])
    assert list(features) == list(expected)
    path = tmp_path / "squad.jsonl"
    path.write_text(json.dumps(SQUAD_ROW) + "\n")
    assert load_source(str(path)) == [_example()]
    with pytest.raises(DataError, match=r"^Example 0 holds both 'question' and 'text', two names of one field"):
        as_features(model, [SQUAD_ROW | {"text": QUESTION}], max_length=64)


def _window_by_window_scores(model, features) -> dict:
    """EM/F1 of each window run alone through the model, decoded over the windows: an independent path."""
    starts, ends = [], []
    with torch.no_grad():
        for feature in features:
            batch = collate([{k: feature[k] for k in ("input_ids", "attention_mask")}], pad_token_id=0)
            output = model.eval()(**batch)
            starts.append(output.start_logits[0].tolist())
            ends.append(output.end_logits[0].tolist())
    windows = features.windows
    return squad_scores_from_logits(starts, ends, windows.offsets, windows.contexts, windows.answers,
                                    windows=windows.example)


def test_trainer_evaluation_scores_squad_f1_and_selects_the_checkpoint_by_it(minilm):
    model = _tiny_qa(minilm)
    short = Example("Who lives in Paris?", text_pair="Bob lives in Paris with his cat.", answers=(("Bob", 0),))
    rows = [SQUAD_ROW, {"question": short.text, "context": short.text_pair, "answers": [["Bob", 0]]}]
    trainer = Trainer(model, {"max_steps": 2, "eval_every": 1, "batch_size": 4, "metric_for_best": "eval_f1",
                              "learning_rate": 1e-3}, max_length=64)
    result = trainer.train(rows, rows)
    evals = result.history["eval"]
    assert len(evals) == 2 and all({"eval_exact_match", "eval_f1"} <= set(row) for row in evals)
    best = max(evals, key=lambda row: row["eval_f1"])  # ties keep the first, as metric_for_best does
    assert result.best_step == best["step"] and result.best_metrics["eval_f1"] == best["eval_f1"]
    # The weights kept are the best step's: scored again window by window, they give its numbers.
    features = as_features(model, rows, max_length=64)
    again = _window_by_window_scores(model, features)
    assert again["f1"] == pytest.approx(best["eval_f1"]) and again["exact_match"] == pytest.approx(best["eval_exact_match"])
