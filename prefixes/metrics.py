"""Evaluation metrics: classification and multiple choice, SQuAD-style QA, BLEU, chrF, ROUGE, perplexity.

BLEU and chrF come from the maintained `sacrebleu` package, ROUGE-1/2/L/Lsum from `rouge-score`;
the SQuAD scores follow the official v1.1 evaluation script's normalisation.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import cast

import numpy as np

_PUNCTUATION = frozenset(string.punctuation)


def _check_pairs(predictions: Sequence, references: Sequence) -> None:
    if len(predictions) != len(references):
        raise ValueError(
            f"{len(predictions)} predictions but {len(references)} references: pass one each."
        )
    if not predictions:
        raise ValueError("No predictions to score.")


def accuracy(predictions: Sequence[int], references: Sequence[int]) -> float:
    """Fraction of predictions equal to their reference, in [0, 1]."""
    _check_pairs(predictions, references)
    return sum(p == r for p, r in zip(predictions, references)) / len(references)


def macro_f1(
    predictions: Sequence[int], references: Sequence[int], num_labels: int | None = None
) -> float:
    """Unweighted mean of per-class F1, in [0, 1].

    Classes are 0..num_labels-1 when given (a class never predicted nor present scores 0, as in
    scikit-learn with `labels=range(num_labels), zero_division=0`), else those seen in either input.
    """
    _check_pairs(predictions, references)
    classes = range(num_labels) if num_labels is not None else sorted({*predictions, *references})
    scores = []
    for cls in classes:
        true_pos = sum(p == cls and r == cls for p, r in zip(predictions, references))
        predicted = sum(p == cls for p in predictions)
        actual = sum(r == cls for r in references)
        # F1 = 2TP / (2TP + FP + FN) = 2TP / (predicted + actual)
        scores.append(2 * true_pos / (predicted + actual) if predicted + actual else 0.0)
    return sum(scores) / len(scores)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lowercase, drop punctuation and articles, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def squad_exact_match(prediction: str, answers: list[str]) -> float:
    """1.0 if the normalised prediction equals any normalised answer, else 0.0."""
    if not answers:
        raise ValueError("squad_exact_match needs at least one reference answer.")
    return float(any(normalize_answer(prediction) == normalize_answer(a) for a in answers))


def squad_f1(prediction: str, answers: list[str]) -> float:
    """Best token-overlap F1 of the prediction against any answer, in [0, 1]."""
    if not answers:
        raise ValueError("squad_f1 needs at least one reference answer.")
    return max(_token_f1(prediction, answer) for answer in answers)


def _token_f1(prediction: str, answer: str) -> float:
    predicted, gold = normalize_answer(prediction).split(), normalize_answer(answer).split()
    common = sum((Counter(predicted) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def squad_scores(predictions: Sequence[str], answers_list: Sequence[list[str]]) -> dict[str, float]:
    """Corpus exact match and F1 in percent (0-100), as the SQuAD evaluation script reports."""
    _check_pairs(predictions, answers_list)
    exact = sum(squad_exact_match(p, a) for p, a in zip(predictions, answers_list))
    f1 = sum(squad_f1(p, a) for p, a in zip(predictions, answers_list))
    return {"exact_match": 100 * exact / len(predictions), "f1": 100 * f1 / len(predictions)}


def best_span(
    start_logits: Sequence[float], end_logits: Sequence[float], offsets: Sequence[tuple[int, int] | None],
    max_answer_length: int = 30,
) -> tuple[int, int] | None:
    """Token positions (start, end) maximising start + end logit, with start <= end, at most
    `max_answer_length` tokens, both inside the context (`offsets[i]` not None); None when the
    encoding holds no context token. Logits may be padded past len(offsets); ties go to the
    earliest start, then the earliest end."""
    found = scored_span(start_logits, end_logits, offsets, max_answer_length)
    return None if found is None else (found[1], found[2])


def scored_span(
    start_logits: Sequence[float], end_logits: Sequence[float], offsets: Sequence[tuple[int, int] | None],
    max_answer_length: int = 30,
) -> tuple[float, int, int] | None:
    """`best_span` with its score: (start + end logit, start, end), or None."""
    if max_answer_length < 1:
        raise ValueError(f"max_answer_length={max_answer_length}: allow at least one token.")
    context = np.array([span is not None for span in offsets])
    if not context.any():
        return None
    n = len(offsets)
    scores = np.asarray(start_logits, dtype=np.float64)[:n, None] + np.asarray(end_logits, dtype=np.float64)[None, :n]
    length = np.arange(n)[None, :] - np.arange(n)[:, None]  # end - start
    valid = (length >= 0) & (length < max_answer_length) & context[:, None] & context[None, :]
    scores = np.where(valid, scores, -np.inf)
    start, end = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return float(scores[start, end]), int(start), int(end)


def squad_scores_from_logits(
    start_logits: Sequence[Sequence[float]],
    end_logits: Sequence[Sequence[float]],
    offsets: Sequence[Sequence[tuple[int, int] | None]],
    contexts: Sequence[str],
    answers_list: Sequence[list[str]],
    max_answer_length: int = 30,
    windows: Sequence[int] | None = None,
) -> dict[str, float]:
    """SQuAD exact match and F1 (0-100) of the answers decoded from start/end logits.

    Per window: its logits and `offsets` (from `ExtractiveQAFormat.context_offsets`); `windows[i]`
    names the example window i reads (default: one window per example). Per example: the context
    text and all its gold answer texts. Each example's answer is its best span over its windows
    (`decode_answers`).
    """
    _check_pairs(contexts, answers_list)
    windows = range(len(contexts)) if windows is None else windows
    predictions = decode_answers(start_logits, end_logits, offsets, windows, contexts, max_answer_length)
    return squad_scores(predictions, answers_list)


def decode_answers(
    start_logits: Sequence[Sequence[float]], end_logits: Sequence[Sequence[float]],
    offsets: Sequence[Sequence[tuple[int, int] | None]], windows: Sequence[int], contexts: Sequence[str],
    max_answer_length: int = 30,
) -> list[str]:
    """Per example, the context text of its best span over all its windows (the encodings of one
    long context; `windows[i]` names the example of window i): the highest start + end logit wins,
    as in the Hugging Face QA examples, ties to the earlier window. "" for an example whose windows
    hold no context token."""
    counts = {len(start_logits), len(end_logits), len(offsets), len(windows)}
    if len(counts) != 1:
        raise ValueError(f"start logits, end logits, offsets and windows must be given per window; got {sorted(counts)}.")
    best: dict[int, tuple[float, int, int]] = {}  # example -> (score, first character, end character)
    for starts, ends, spans, example in zip(start_logits, end_logits, offsets, windows):
        found = scored_span(starts, ends, spans, max_answer_length)
        if found is not None and (example not in best or found[0] > best[example][0]):
            # scored_span picks context tokens only: both spans are set.
            first, last = cast(tuple[int, int], spans[found[1]]), cast(tuple[int, int], spans[found[2]])
            best[example] = (found[0], first[0], last[1])
    return [context[best[i][1] : best[i][2]] if i in best else "" for i, context in enumerate(contexts)]


def decode_answer(
    start_logits: Sequence[float], end_logits: Sequence[float], offsets: Sequence[tuple[int, int] | None],
    context: str, max_answer_length: int = 30,
) -> str:
    """The context text of the best span (`best_span`) of one window; "" when it holds no context token."""
    return decode_answers([start_logits], [end_logits], [offsets], [0], [context], max_answer_length)[0]


References = Sequence[str | Sequence[str]]
"""Per prediction: its reference, or all references of its source (multi-reference data)."""


def _reference_lists(predictions: Sequence[str], references: References) -> list[list[str]]:
    _check_pairs(predictions, references)
    lists = [[refs] if isinstance(refs, str) else list(refs) for refs in references]
    for index, refs in enumerate(lists):
        if not refs:
            raise ValueError(f"references[{index}] is empty: give every prediction at least one reference.")
    return lists


def _reference_streams(predictions: Sequence[str], references: References) -> list[list[str | None]]:
    """sacrebleu's reference streams: stream i holds each prediction's i-th reference. Streams must
    be equally long; None marks a missing reference (not "", which would count as an empty one)."""
    lists = _reference_lists(predictions, references)
    return [[refs[i] if i < len(refs) else None for refs in lists] for i in range(max(map(len, lists)))]


def bleu(predictions: list[str], references: References) -> float:
    """sacrebleu corpus BLEU (0-100) against one or several references per prediction.

    With several, sacrebleu's multi-reference BLEU: n-grams match any reference, and the brevity
    penalty uses the reference length closest to the prediction's.
    """
    import sacrebleu

    streams = _reference_streams(predictions, references)
    return sacrebleu.corpus_bleu(predictions, cast("Sequence[Sequence[str]]", streams)).score


def chrf(predictions: list[str], references: References) -> float:
    """sacrebleu corpus chrF (0-100, character 6-grams, beta 2), the WMT metric beside BLEU; with
    several references a prediction is scored against its best-matching one, as sacrebleu does."""
    import sacrebleu

    streams = _reference_streams(predictions, references)
    return sacrebleu.corpus_chrf(predictions, cast("Sequence[Sequence[str]]", streams)).score


ROUGE_TYPES = {"rouge_1": "rouge1", "rouge_2": "rouge2", "rouge_l": "rougeL", "rouge_lsum": "rougeLsum"}
"""Reported name -> rouge-score's name of each ROUGE variant."""


def rouge(predictions: list[str], references: References) -> dict[str, float]:
    """Mean ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum F-measures (0-1), named as `ROUGE_TYPES`.

    rouge-score's default tokenisation, no stemming. ROUGE-Lsum takes the longest common
    subsequence over sentences, which rouge-score splits at newlines: on one-line texts it equals
    ROUGE-L. With several references a prediction scores its best F-measure over them, per variant
    (rouge-score's score_multi).
    """
    from rouge_score import rouge_scorer

    lists = _reference_lists(predictions, references)
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES.values()))
    scores = [scorer.score_multi(refs, pred) for pred, refs in zip(predictions, lists)]
    return {name: sum(score[kind].fmeasure for score in scores) / len(scores) for name, kind in ROUGE_TYPES.items()}


def rouge_l(predictions: list[str], references: References) -> float:
    """Mean ROUGE-L F-measure (0-1): `rouge`'s "rouge_l"."""
    return rouge(predictions, references)["rouge_l"]


def perplexity(total_nll: float, total_tokens: int) -> float:
    """exp(total_nll / total_tokens): total_nll is the summed natural-log loss over the tokens."""
    if total_tokens <= 0:
        raise ValueError(
            f"total_tokens={total_tokens}: perplexity needs at least one scored token."
        )
    try:
        return math.exp(total_nll / total_tokens)
    except OverflowError:  # a diverged model; report it rather than crash the evaluation
        return math.inf
