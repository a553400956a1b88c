"""Metrics against values worked out by hand."""

import math

import pytest

from prefixes.metrics import (
    accuracy,
    best_span,
    bleu,
    macro_f1,
    normalize_answer,
    perplexity,
    rouge_l,
    squad_exact_match,
    squad_f1,
    squad_scores,
    squad_scores_from_logits,
)

PREDICTIONS = [0, 0, 1, 1, 2, 2]
REFERENCES = [0, 1, 1, 1, 2, 0]


def test_accuracy():
    assert accuracy(PREDICTIONS, REFERENCES) == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="No predictions"):
        accuracy([], [])


def test_macro_f1_by_hand():
    # class 0: TP 1, predicted 2, actual 2 -> 2/4;  class 1: TP 2, predicted 2, actual 3 -> 4/5;
    # class 2: TP 1, predicted 2, actual 1 -> 2/3.
    per_class = [2 / 4, 4 / 5, 2 / 3]
    assert macro_f1(PREDICTIONS, REFERENCES) == pytest.approx(sum(per_class) / 3)
    # A fourth class that never occurs scores 0 and still counts in the mean.
    assert macro_f1(PREDICTIONS, REFERENCES, num_labels=4) == pytest.approx(sum(per_class) / 4)
    assert macro_f1([1, 1], [1, 1]) == 1.0


def test_squad_normalisation_and_scores():
    assert normalize_answer("  The Cat's  hat, an  apple!") == "cats hat apple"
    assert squad_exact_match("the cat", ["A cat.", "dog"]) == 1.0
    assert squad_exact_match("cat hat", ["cat"]) == 0.0
    # tokens [big, black, cat] vs [black, cat, sat]: 2 common, P = R = 2/3.
    assert squad_f1("big black cat", ["black cat sat", "dog"]) == pytest.approx(2 / 3)
    assert squad_f1("dog", ["black cat"]) == 0.0
    scores = squad_scores(["the cat", "big black cat"], [["cat"], ["black cat sat"]])
    assert scores == {
        "exact_match": pytest.approx(50.0),
        "f1": pytest.approx(100 * (1 + 2 / 3) / 2),
    }


def test_bleu_by_hand():
    # n-gram precisions 5/6, 3/5, 2/4, 1/3 and equal lengths (no brevity penalty).
    expected = 100 * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25
    assert bleu(["the cat sat on the mat"], ["the cat sat on a mat"]) == pytest.approx(expected)
    assert bleu(["same words here ok"], ["same words here ok"]) == pytest.approx(100.0)


def test_rouge_l_by_hand():
    # LCS 3 of 3 predicted and 6 reference tokens: P 1, R 0.5, F 2/3; the second pair is exact.
    score = rouge_l(["the cat sat", "hello there"], ["the cat sat on the mat", "hello there"])
    assert score == pytest.approx((2 / 3 + 1.0) / 2)


def test_perplexity():
    assert perplexity(10 * math.log(4.0), 10) == pytest.approx(4.0)
    assert perplexity(1e6, 1) == math.inf
    with pytest.raises(ValueError, match="total_tokens=0"):
        perplexity(1.0, 0)


# ---- extractive QA decoding -----------------------------------------------------------------------


# Token 0 [CLS], 1-2 question, 3 [SEP], 4-7 context "Bob lives in Paris", 8 [SEP], 9 padding.
_CONTEXT = "Bob lives in Paris"
_OFFSETS = [None, None, None, None, (0, 3), (4, 9), (10, 12), (13, 18), None]


def test_best_span_stays_in_the_context_and_orders_start_before_end():
    start = [9.0, 8.0, 0, 0, 1.0, 0, 0, 3.0, 0, 50.0]  # [CLS], question and padding are never picked
    end = [9.0, 0, 8.0, 0, 2.0, 0, 0, 1.0, 9.0, 50.0]
    assert best_span(start, end, _OFFSETS) == (7, 7)  # 3 + 1 beats 1 + 2 and the invalid end 7 < start
    assert best_span([0, 0, 0, 0, 5.0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 4.0, 0], _OFFSETS) == (4, 7)
    assert best_span([0] * 9, [0] * 9, [None] * 9) is None


def test_best_span_respects_the_max_answer_length():
    start = [0, 0, 0, 0, 5.0, 0, 0, 0, 0]
    end = [0, 0, 0, 0, 0, 1.0, 0, 4.0, 0]
    assert best_span(start, end, _OFFSETS, max_answer_length=4) == (4, 7)
    assert best_span(start, end, _OFFSETS, max_answer_length=2) == (4, 5)
    with pytest.raises(ValueError, match="max_answer_length=0"):
        best_span(start, end, _OFFSETS, max_answer_length=0)


def test_squad_scores_from_logits_against_all_gold_answers():
    right = ([0, 0, 0, 0, 0, 0, 0, 5.0, 0], [0, 0, 0, 0, 0, 0, 0, 5.0, 0])  # "Paris"
    wide = ([0, 0, 0, 0, 0, 0, 5.0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 5.0, 0])  # "in Paris"
    scores = squad_scores_from_logits(
        [right[0], wide[0]], [right[1], wide[1]], [_OFFSETS, _OFFSETS], [_CONTEXT, _CONTEXT],
        [["Bob", "Paris"], ["Paris"]],
    )
    # Example 1 matches its second gold answer; example 2 has F1 2 * (1/2 * 1) / (1/2 + 1) = 2/3.
    assert scores["exact_match"] == 50.0
    assert scores["f1"] == pytest.approx(100 * (1 + 2 / 3) / 2)
    no_context = squad_scores_from_logits([[0.0]], [[0.0]], [[None]], ["x"], [["x"]])
    assert no_context == {"exact_match": 0.0, "f1": 0.0}
