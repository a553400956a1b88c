"""Extractive QA (SQuAD style): question + context -> start/end token positions, and back to text.

A context longer than `max_length` is read in overlapping windows (a document stride), as the
Hugging Face QA examples read it: every window holds the question and a stretch of the context,
each overlapping the one before by `doc_stride` tokens, and the answer is the best span over all
windows of its example.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from prefixes.data.example import DataError, Example, check_answers, row_name
from prefixes.data.truncation import TruncationReport, report_truncation

CharSpan = tuple[int, int]


@dataclass(frozen=True)
class QAWindows:
    """Where each window of an encoding came from: what turns its start/end logits into answers
    (`prefixes.metrics.decode_answers`, `prefixes.evaluate.window_scores`)."""

    example: list[int]
    """Per window: the index of the example it reads."""
    offsets: list[list[CharSpan | None]]
    """Per window, per token: the context characters it covers; None for question and special tokens."""
    contexts: list[str]
    """Per example: its context."""
    answers: list[list[str]]
    """Per example: every gold answer text (none for an unanswerable or unlabelled question)."""


class QAFeatures(list):
    """The features of an encoding, one dict per window, with the `windows` they came from. A list
    as every format returns: the evaluation loop finds the windows on its loader's dataset and
    scores SQuAD exact match and F1 beside the loss (`prefixes.evaluate.evaluate_model`)."""

    def __init__(self, features: list[dict], windows: QAWindows) -> None:
        super().__init__(features)
        self.windows = windows


class ExtractiveQAFormat:
    """SQuAD style: question (`text`) + context (`text_pair`) -> start/end token positions.

    Each example becomes one window or more of at most `max_length` tokens, consecutive windows
    sharing `doc_stride` context tokens (default: a third of `max_length`); the question is never
    cut. A window's target is the first answer when the window holds all of it, else token 0 (the
    [CLS] "no answer" slot), as the Hugging Face QA examples train. The only loss left is an
    answer no window holds whole; such examples are counted in `TruncationReport.truncated` and
    `answers_lost`, and still count (as misses) in EM/F1.
    """

    def __init__(self, tokenizer: Any, max_length: int, doc_stride: int | None = None) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise DataError(
                f"{type(tokenizer).__name__} is not a fast tokenizer: extractive QA needs the "
                "offset mapping only fast (tokenizers-backed) tokenizers provide."
            )
        if doc_stride is not None and doc_stride < 0:
            raise DataError(f"doc_stride={doc_stride}: give the windows' overlap in tokens, 0 or more.")
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.doc_stride = max_length // 3 if doc_stride is None else doc_stride

    def encode(self, examples: list[Example], origin: str | None = None) -> tuple[QAFeatures, TruncationReport]:
        """Tokenise question + context into windows and locate each first answer span in tokens.

        `origin` (e.g. the file the examples came from) is named in errors with the row number.
        """
        for index, example in enumerate(examples):
            _check_qa_example(example, row_name(origin, index))
        features = self._windows(examples, origin)
        found: set[int] = set()
        for feature, example_index, spans in zip(features, features.windows.example, features.windows.offsets):
            answers = examples[example_index].answers
            span = _token_span(spans, answers[0][1], answers[0][1] + len(answers[0][0])) if answers else None
            if span is not None:
                found.add(example_index)
            feature["start_positions"], feature["end_positions"] = span or (0, 0)
        lost = sum(1 for index, example in enumerate(examples) if example.answers and index not in found)
        report = TruncationReport(len(examples), lost, self.max_length, answers_lost=lost)
        return features, report_truncation(report, "extractive QA")

    def inputs(self, examples: list[Example]) -> tuple[QAFeatures, list[list[CharSpan | None]]]:
        """Model inputs of questions with contexts and no answers (serving), in windows as `encode`
        makes them (their `windows` decode the answers), with each window's `context_offsets`."""
        for index, example in enumerate(examples):
            if example.text_pair is None:
                raise DataError(f"{row_name(None, index)} field 'text_pair' (the QA context) is empty: "
                                "give the passage to answer from.")
        features = self._windows(examples, None)
        return features, features.windows.offsets

    def context_offsets(self, examples: list[Example]) -> list[list[CharSpan | None]]:
        """Per window of `encode`, per token: the (start, end) characters it covers in its context,
        or None for question and special tokens."""
        return self.inputs(examples)[1]

    def decode_span(self, example: Example, start: int, end: int) -> str:
        """Context text covered by token positions start..end (inclusive) of the example's first
        window; "" if not in its context."""
        spans = self.context_offsets([example])[0]
        if end < start or end >= len(spans):
            return ""
        first, last = spans[start], spans[end]
        if first is None or last is None:
            return ""
        return cast(str, example.text_pair)[first[0] : last[1]]

    def _windows(self, examples: list[Example], origin: str | None) -> QAFeatures:
        questions = [example.text for example in examples]
        contexts = [cast(str, example.text_pair) for example in examples]  # checked by the callers
        self._check_question_room(questions, origin)
        encoded = self.tokenizer(questions, contexts, truncation="only_second", max_length=self.max_length,
                                 stride=self.doc_stride, return_overflowing_tokens=True, return_offsets_mapping=True)
        offsets = [_context_spans(encoded, window) for window in range(len(encoded["input_ids"]))]
        windows = QAWindows(example=list(encoded["overflow_to_sample_mapping"]), offsets=offsets, contexts=contexts,
                            answers=[[text for text, _ in example.answers or ()] for example in examples])
        features = [{"input_ids": ids, "attention_mask": mask}
                    for ids, mask in zip(encoded["input_ids"], encoded["attention_mask"])]
        return QAFeatures(features, windows)

    def _check_question_room(self, questions: list[str], origin: str | None) -> None:
        # The tokenizer fails cryptically when the question leaves no more context room than the overlap.
        specials = self.tokenizer.num_special_tokens_to_add(pair=True)
        encoded = self.tokenizer(questions, add_special_tokens=False, verbose=False)
        for index, ids in enumerate(encoded["input_ids"]):
            room = self.max_length - specials - len(ids)
            if room <= self.doc_stride:
                raise DataError(
                    f"{row_name(origin, index)} field 'text' (the question) takes {len(ids)} tokens, leaving "
                    f"{max(room, 0)} context tokens per window within max_length={self.max_length}, not more than "
                    f"the windows' overlap doc_stride={self.doc_stride}: raise max_length, lower doc_stride "
                    "or shorten the question."
                )


def _check_qa_example(example: Example, at: str) -> None:
    if example.text_pair is None:
        raise DataError(f"{at} field 'text_pair' (the QA context) is empty: give the passage to answer from.")
    if example.answers is None:
        raise DataError(
            f"{at} field 'answers' is None: give a tuple of (text, char_start) pairs, "
            "or () for an unanswerable question."
        )
    check_answers(example.answers, example.text_pair, f"{at} field 'answers'")


def _context_spans(encoded: Any, window: int) -> list[CharSpan | None]:
    offsets, sequence_ids = encoded["offset_mapping"][window], encoded.sequence_ids(window)
    return [tuple(offset) if seq == 1 else None for offset, seq in zip(offsets, sequence_ids)]


def _token_span(spans: Sequence[CharSpan | None], char_start: int, char_end: int) -> tuple[int, int] | None:
    """First and last context token covering [char_start, char_end), or None if the window does
    not hold all of it."""
    context = [position for position, span in enumerate(spans) if span is not None]
    covered = cast(Sequence[CharSpan], spans)  # at the positions in `context`
    if not context or covered[context[0]][0] > char_start or covered[context[-1]][1] < char_end:
        return None
    start = next(p for p in context if covered[p][1] > char_start)
    end = next(p for p in reversed(context) if covered[p][0] < char_end)
    return start, end
