"""Extractive QA (SQuAD style): question + context -> start/end token positions, and back to text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from prefixes.data.example import DataError, Example, check_answers, row_name
from prefixes.data.truncation import TruncationReport, report_truncation, token_counts

CharSpan = tuple[int, int]


class ExtractiveQAFormat:
    """SQuAD style: question (`text`) + context (`text_pair`) -> start/end token positions.

    Long contexts are truncated, not strided: each example is one window holding the question and
    the start of its context, cut at `max_length` tokens (the question is never cut). An answer
    beyond the cut cannot be predicted; such examples are counted in `TruncationReport.answers_lost`
    and still count (as misses) in EM/F1. The first answer is the training target; an example with
    no answers, or whose answer was cut off, points at token 0 (the [CLS] "no answer" slot).
    `context_offsets` gives the character span of every context token, for
    `prefixes.metrics.squad_scores_from_logits` to decode answers over the context only.
    """

    def __init__(self, tokenizer: Any, max_length: int) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise DataError(
                f"{type(tokenizer).__name__} is not a fast tokenizer: extractive QA needs the "
                "offset mapping only fast (tokenizers-backed) tokenizers provide."
            )
        self.tokenizer = tokenizer
        self.max_length = max_length

    def encode(self, examples: list[Example], origin: str | None = None) -> tuple[list[dict], TruncationReport]:
        """Tokenise question + context and locate each first answer span in tokens.

        `origin` (e.g. the file the examples came from) is named in errors with the row number.
        """
        for index, example in enumerate(examples):
            _check_qa_example(example, row_name(origin, index))
        questions = [example.text for example in examples]
        contexts = [cast(str, example.text_pair) for example in examples]  # checked above
        self._check_question_room(questions, origin)
        lengths = token_counts(self.tokenizer, questions, contexts)
        encoded = self._tokenize(questions, contexts)
        features, lost = [], 0
        for index, example in enumerate(examples):
            start, end = 0, 0
            if example.answers:
                text, char_start = example.answers[0]
                span = _token_span(_context_spans(encoded, index), char_start, char_start + len(text))
                if span is None:
                    lost += 1
                else:
                    start, end = span
            features.append(
                {
                    "input_ids": encoded["input_ids"][index],
                    "attention_mask": encoded["attention_mask"][index],
                    "start_positions": start,
                    "end_positions": end,
                }
            )
        truncated = sum(length > self.max_length for length in lengths)
        report = TruncationReport(len(examples), truncated, self.max_length, answers_lost=lost)
        return features, report_truncation(report, "extractive QA")

    def inputs(self, examples: list[Example]) -> tuple[list[dict], list[list[CharSpan | None]]]:
        """Model inputs of questions with contexts and no answers (serving), tokenised as `encode`
        tokenises them, with each encoding's `context_offsets`."""
        for index, example in enumerate(examples):
            if example.text_pair is None:
                raise DataError(f"{row_name(None, index)} field 'text_pair' (the QA context) is empty: "
                                "give the passage to answer from.")
        questions = [example.text for example in examples]
        self._check_question_room(questions, None)
        encoded = self._tokenize(questions, [cast(str, example.text_pair) for example in examples])
        features = [{"input_ids": ids, "attention_mask": mask}
                    for ids, mask in zip(encoded["input_ids"], encoded["attention_mask"])]
        return features, [_context_spans(encoded, index) for index in range(len(examples))]

    def context_offsets(self, examples: list[Example]) -> list[list[CharSpan | None]]:
        """Per example, per token of its encoding: the (start, end) characters it covers in the
        context, or None for question, special and cut-off tokens. Same tokenisation as `encode`."""
        encoded = self._tokenize([example.text for example in examples], [cast(str, example.text_pair) for example in examples])
        return [_context_spans(encoded, index) for index in range(len(examples))]

    def decode_span(self, example: Example, start: int, end: int) -> str:
        """Context text covered by token positions start..end (inclusive); "" if not in context."""
        spans = self.context_offsets([example])[0]
        if end < start or end >= len(spans):
            return ""
        first, last = spans[start], spans[end]
        if first is None or last is None:
            return ""
        return cast(str, example.text_pair)[first[0] : last[1]]

    def _tokenize(self, questions: list[str], contexts: list[str]) -> Any:
        return self.tokenizer(
            questions,
            contexts,
            truncation="only_second",
            max_length=self.max_length,
            return_offsets_mapping=True,
        )

    def _check_question_room(self, questions: list[str], origin: str | None) -> None:
        # The tokenizer fails cryptically when the question alone leaves no room for context.
        specials = self.tokenizer.num_special_tokens_to_add(pair=True)
        encoded = self.tokenizer(questions, add_special_tokens=False, verbose=False)
        for index, ids in enumerate(encoded["input_ids"]):
            if len(ids) + specials >= self.max_length:
                raise DataError(
                    f"{row_name(origin, index)} field 'text' (the question) takes {len(ids)} tokens, "
                    f"leaving no room for the context within max_length={self.max_length}: raise "
                    "max_length or shorten the question."
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


def _context_spans(encoded: Any, index: int) -> list[CharSpan | None]:
    offsets, sequence_ids = encoded["offset_mapping"][index], encoded.sequence_ids(index)
    return [tuple(offset) if seq == 1 else None for offset, seq in zip(offsets, sequence_ids)]


def _token_span(spans: Sequence[CharSpan | None], char_start: int, char_end: int) -> tuple[int, int] | None:
    """First and last context token covering [char_start, char_end), or None if cut off."""
    context = [position for position, span in enumerate(spans) if span is not None]
    covered = cast(Sequence[CharSpan], spans)  # at the positions in `context`
    if not context or covered[context[-1]][1] < char_end:
        return None
    start = next(p for p in context if covered[p][1] > char_start)
    end = next(p for p in reversed(context) if covered[p][0] < char_end)
    return start, end
