"""Tokenisation of Examples for classification and extractive QA, and batch collation.

Every `encode` returns one dict of python-int lists per example plus a `TruncationReport`:
truncation is always counted and logged, never silent. The generation formats live in
`prefixes.data.generation` and are re-exported here, so every task format imports from one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from prefixes.data.example import DataError, Example
from prefixes.data.generation import CausalGenerationFormat, Seq2SeqGenerationFormat
from prefixes.data.truncation import (
    IGNORE_INDEX,
    TruncationReport,
    report_truncation,
    token_counts,
)


class ClassificationFormat:
    """Single text or text pair -> input_ids, attention_mask, labels (index into label_names)."""

    def __init__(self, tokenizer: Any, label_names: list[str], max_length: int) -> None:
        if len(set(label_names)) != len(label_names) or not label_names:
            raise DataError(f"label_names={label_names!r} must be non-empty and unique.")
        self.tokenizer = tokenizer
        self.label_names = list(label_names)
        self.max_length = max_length
        self._label_ids = {name: index for index, name in enumerate(label_names)}

    def encode(self, examples: list[Example]) -> tuple[list[dict], TruncationReport]:
        """Tokenise with truncation to `max_length` (longest text of a pair first)."""
        labels = [self._label_id(index, example) for index, example in enumerate(examples)]
        features, report = classification_inputs(self.tokenizer, examples, self.max_length)
        for feature, label in zip(features, labels):
            feature["labels"] = label
        return features, report_truncation(report, "classification")

    def _label_id(self, index: int, example: Example) -> int:
        if example.label not in self._label_ids:
            raise DataError(
                f"Example {index} field 'label' holds {example.label!r}, which is not among the "
                f"allowed labels {self.label_names}: fix the data or pass the full label_names."
            )
        return self._label_ids[example.label]


def classification_inputs(
    tokenizer: Any, examples: list[Example], max_length: int
) -> tuple[list[dict], TruncationReport]:
    """input_ids and attention_mask of classification examples (labels not needed), as the
    classification format tokenises them: truncated to `max_length`, longest text of a pair first."""
    texts = [example.text for example in examples]
    pairs = _text_pairs(examples)
    lengths = token_counts(tokenizer, texts, pairs)
    encoded = tokenizer(texts, pairs, truncation=True, max_length=max_length)
    features = [
        {"input_ids": ids, "attention_mask": mask}
        for ids, mask in zip(encoded["input_ids"], encoded["attention_mask"])
    ]
    truncated = sum(length > max_length for length in lengths)
    return features, TruncationReport(len(examples), truncated, max_length)


def _text_pairs(examples: list[Example]) -> list[str] | None:
    """All text pairs, or None when no example has one; a mix is an error."""
    has_pair = [example.text_pair is not None for example in examples]
    if not any(has_pair):
        return None
    if not all(has_pair):
        missing = has_pair.index(False)
        raise DataError(
            f"Example {missing} field 'text_pair' is empty while others have one: every example "
            "of a pair task needs both texts."
        )
    return [example.text_pair for example in examples]


class ExtractiveQAFormat:
    """SQuAD style: question (`text`) + context (`text_pair`) -> start/end token positions.

    Only the context is truncated. The first answer is the training target; an example with no
    answers, or whose answer was truncated away, points at token 0 (the [CLS] "no answer" slot).
    """

    def __init__(self, tokenizer: Any, max_length: int) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise DataError(
                f"{type(tokenizer).__name__} is not a fast tokenizer: extractive QA needs the "
                "offset mapping only fast (tokenizers-backed) tokenizers provide."
            )
        self.tokenizer = tokenizer
        self.max_length = max_length

    def encode(self, examples: list[Example]) -> tuple[list[dict], TruncationReport]:
        """Tokenise question + context and locate each answer span in tokens."""
        for index, example in enumerate(examples):
            _check_qa_example(index, example)
        questions = [example.text for example in examples]
        contexts = [example.text_pair for example in examples]
        self._check_question_room(questions)
        lengths = token_counts(self.tokenizer, questions, contexts)
        encoded = self._tokenize(questions, contexts)
        features, lost = [], 0
        for index, example in enumerate(examples):
            start, end = 0, 0
            if example.answers:
                text, char_start = example.answers[0]
                span = _token_span(
                    encoded["offset_mapping"][index],
                    encoded.sequence_ids(index),
                    char_start,
                    char_start + len(text),
                )
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

    def decode_span(self, example: Example, start: int, end: int) -> str:
        """Context text covered by token positions start..end (inclusive); "" if not in context."""
        encoded = self._tokenize([example.text], [example.text_pair])
        offsets, sequence_ids = encoded["offset_mapping"][0], encoded.sequence_ids(0)
        in_context = [position for position, seq in enumerate(sequence_ids) if seq == 1]
        if end < start or start not in in_context or end not in in_context:
            return ""
        return example.text_pair[offsets[start][0] : offsets[end][1]]

    def _tokenize(self, questions: list[str], contexts: list[str]) -> Any:
        return self.tokenizer(
            questions,
            contexts,
            truncation="only_second",
            max_length=self.max_length,
            return_offsets_mapping=True,
        )

    def _check_question_room(self, questions: list[str]) -> None:
        # The tokenizer fails cryptically when the question alone leaves no room for context.
        specials = self.tokenizer.num_special_tokens_to_add(pair=True)
        encoded = self.tokenizer(questions, add_special_tokens=False, verbose=False)
        for index, ids in enumerate(encoded["input_ids"]):
            if len(ids) + specials >= self.max_length:
                raise DataError(
                    f"Example {index} field 'text' (the question) takes {len(ids)} tokens, leaving "
                    f"no room for the context within max_length={self.max_length}: raise "
                    "max_length or shorten the question."
                )


def _check_qa_example(index: int, example: Example) -> None:
    if example.text_pair is None:
        raise DataError(f"Example {index} field 'text_pair' (the QA context) is empty.")
    if example.answers is None:
        raise DataError(
            f"Example {index} field 'answers' is None: give a tuple of (text, char_start) pairs, "
            "or () for an unanswerable question."
        )
    for text, char_start in example.answers:
        found = example.text_pair[char_start : char_start + len(text)]
        if found != text:
            raise DataError(
                f"Example {index} field 'answers' holds ({text!r}, {char_start}) but the context "
                f"has {found!r} there: fix the character offset."
            )


def _token_span(
    offsets: Sequence[tuple[int, int]],
    sequence_ids: Sequence[int | None],
    char_start: int,
    char_end: int,
) -> tuple[int, int] | None:
    """First and last context token covering [char_start, char_end), or None if cut off."""
    context = [position for position, seq in enumerate(sequence_ids) if seq == 1]
    if not context or offsets[context[-1]][1] < char_end:
        return None
    start = next(p for p in context if offsets[p][1] > char_start)
    end = next(p for p in reversed(context) if offsets[p][0] < char_end)
    return start, end


def collate(
    features: list[dict], pad_token_id: int, padding_side: str = "right"
) -> dict[str, torch.Tensor]:
    """Stack features into long tensors, padding list-valued keys to the longest in the batch.

    input_ids pad with `pad_token_id`, labels with -100 (ignored by the loss), everything else
    (attention_mask included) with 0. Int-valued keys (class labels, QA positions) are stacked.
    """
    if padding_side not in ("right", "left"):
        raise ValueError(f"padding_side={padding_side!r}: use 'right' or 'left'.")
    if not features:
        raise ValueError("collate() got an empty batch.")
    keys = list(features[0])
    if any(set(feature) != set(keys) for feature in features):
        raise ValueError(f"Features in one batch have different keys; expected {keys}.")
    batch = {}
    for key in keys:
        values = [feature[key] for feature in features]
        if all(isinstance(value, int) for value in values):
            batch[key] = torch.tensor(values, dtype=torch.long)
            continue
        pad = {"input_ids": pad_token_id, "labels": IGNORE_INDEX}.get(key, 0)
        width = max(len(value) for value in values)
        rows = [
            value + [pad] * (width - len(value))
            if padding_side == "right"
            else [pad] * (width - len(value)) + value
            for value in values
        ]
        batch[key] = torch.tensor(rows, dtype=torch.long)  # (B, T)
    return batch


__all__ = [
    "CausalGenerationFormat",
    "ClassificationFormat",
    "ExtractiveQAFormat",
    "Seq2SeqGenerationFormat",
    "TruncationReport",
    "collate",
]
