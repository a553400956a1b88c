"""Tokenisation of Examples for classification (single texts and pairs), and batch collation.

Every `encode` returns one dict of python-int lists per example plus a `TruncationReport`:
truncation is always counted and logged, never silent. The generation, extractive QA and multiple
choice formats live in `prefixes.data.generation`, `.qa` and `.choice` and are re-exported here,
so every task format imports from one place.
"""

from __future__ import annotations

from typing import Any, cast

import torch

from prefixes.data.choice import MultipleChoiceFormat
from prefixes.data.example import DataError, Example, row_name
from prefixes.data.generation import CausalGenerationFormat, Seq2SeqGenerationFormat
from prefixes.data.qa import ExtractiveQAFormat
from prefixes.data.truncation import (
    IGNORE_INDEX,
    TruncationReport,
    report_truncation,
    token_counts,
)


class ClassificationFormat:
    """Single text or text pair (NLI: premise `text`, hypothesis `text_pair`) -> input_ids,
    attention_mask, labels (index into label_names); pairs also get the tokenizer's token_type_ids."""

    def __init__(self, tokenizer: Any, label_names: list[str], max_length: int) -> None:
        if len(set(label_names)) != len(label_names) or not label_names:
            raise DataError(f"label_names={label_names!r} must be non-empty and unique.")
        self.tokenizer = tokenizer
        self.label_names = list(label_names)
        self.max_length = max_length
        self._label_ids = {name: index for index, name in enumerate(label_names)}

    def encode(self, examples: list[Example], origin: str | None = None) -> tuple[list[dict], TruncationReport]:
        """Tokenise with truncation to `max_length` (longest text of a pair first).

        `origin` (e.g. the file the examples came from) is named in errors with the row number.
        """
        labels = [self._label_id(row_name(origin, index), example) for index, example in enumerate(examples)]
        features, report = classification_inputs(self.tokenizer, examples, self.max_length, origin)
        for feature, label in zip(features, labels):
            feature["labels"] = label
        return features, report_truncation(report, "classification")

    def _label_id(self, at: str, example: Example) -> int:
        if example.label not in self._label_ids:
            raise DataError(
                f"{at} field 'label' holds {example.label!r}, which is not among the "
                f"allowed labels {self.label_names}: fix the data or pass the full label_names."
            )
        return self._label_ids[example.label]


def classification_inputs(
    tokenizer: Any, examples: list[Example], max_length: int, origin: str | None = None
) -> tuple[list[dict], TruncationReport]:
    """input_ids and attention_mask of classification examples (labels not needed), as the
    classification format tokenises them: truncated to `max_length`, longest text of a pair first.
    Pairs also carry token_type_ids when the tokenizer makes them (BERT's segment ids)."""
    texts = [example.text for example in examples]
    pairs = _text_pairs(examples, origin)
    lengths = token_counts(tokenizer, texts, pairs)
    encoded = tokenizer(texts, pairs, truncation=True, max_length=max_length)
    features = [
        {"input_ids": ids, "attention_mask": mask}
        for ids, mask in zip(encoded["input_ids"], encoded["attention_mask"])
    ]
    if pairs is not None and "token_type_ids" in encoded:
        for feature, segments in zip(features, encoded["token_type_ids"]):
            feature["token_type_ids"] = segments
    truncated = sum(length > max_length for length in lengths)
    return features, TruncationReport(len(examples), truncated, max_length)


def _text_pairs(examples: list[Example], origin: str | None) -> list[str] | None:
    """All text pairs, or None when no example has one; a mix is an error."""
    has_pair = [example.text_pair is not None for example in examples]
    if not any(has_pair):
        return None
    if not all(has_pair):
        missing = has_pair.index(False)
        raise DataError(
            f"{row_name(origin, missing)} field 'text_pair' is empty while others have one: every example "
            "of a pair task needs both texts."
        )
    return [cast(str, example.text_pair) for example in examples]


def collate(
    features: list[dict], pad_token_id: int, padding_side: str = "right"
) -> dict[str, torch.Tensor]:
    """Stack features into long tensors, padding list-valued keys to the longest in the batch.

    input_ids pad with `pad_token_id`, labels with -100 (ignored by the loss), everything else
    (attention_mask included) with 0. Int-valued keys (class labels, QA positions) are stacked.
    Multiple-choice features hold one list per choice: every choice of every example is padded
    to the longest in the batch, giving (B, choices, T).
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
        nested = all(value and isinstance(value[0], list) for value in values)
        sequences = [row for value in values for row in value] if nested else values
        width = max(len(row) for row in sequences)
        rows = [
            row + [pad] * (width - len(row)) if padding_side == "right" else [pad] * (width - len(row)) + row
            for row in sequences
        ]
        tensor = torch.tensor(rows, dtype=torch.long)  # (B, T), or (B * choices, T) when nested
        batch[key] = tensor.view(len(values), -1, width) if nested else tensor
    return batch


__all__ = [
    "CausalGenerationFormat",
    "ClassificationFormat",
    "ExtractiveQAFormat",
    "MultipleChoiceFormat",
    "Seq2SeqGenerationFormat",
    "TruncationReport",
    "collate",
]
