"""Multiple choice (CommonsenseQA style): a question and its candidate answers -> one sequence per
(question, choice) pair, for transformers' `AutoModelForMultipleChoice` heads."""

from __future__ import annotations

from typing import Any, cast

from prefixes.data.example import DataError, Example, row_name
from prefixes.data.truncation import TruncationReport, report_truncation, token_counts


class MultipleChoiceFormat:
    """Question (`text`) + candidate answers (`choices`) -> (choices, T) input_ids and a label.

    `label_names[i]` names choice i (CommonsenseQA: "A".."E"); every example must have exactly
    `len(label_names)` choices, and its `label` is the name of the right one. Each choice is encoded
    as the pair (question, choice), truncated to `max_length` (longest text first), with
    token_type_ids when the tokenizer makes them. `collate` stacks the features to (B, choices, T);
    the head flattens them to (B * choices, T) and scores each pair, and the prediction is the
    argmax over the (B, choices) logits (`prefixes.metrics.accuracy`).
    """

    def __init__(self, tokenizer: Any, label_names: list[str], max_length: int) -> None:
        if len(label_names) < 2 or len(set(label_names)) != len(label_names):
            raise DataError(f"label_names={label_names!r} must name at least two choices, each once.")
        self.tokenizer = tokenizer
        self.label_names = list(label_names)
        self.max_length = max_length
        self._label_ids = {name: index for index, name in enumerate(label_names)}

    @property
    def num_choices(self) -> int:
        return len(self.label_names)

    def encode(self, examples: list[Example], origin: str | None = None) -> tuple[list[dict], TruncationReport]:
        """Tokenise every (question, choice) pair; `origin` (e.g. a file) is named in errors."""
        labels = [self._check(example, row_name(origin, index)) for index, example in enumerate(examples)]
        features = choice_inputs(self.tokenizer, examples, self.max_length)
        for feature, label in zip(features, labels):
            feature["labels"] = label
        questions = [example.text for example in examples for _ in range(self.num_choices)]
        choices = [choice for example in examples for choice in cast(tuple[str, ...], example.choices)]
        lengths = token_counts(self.tokenizer, questions, choices)
        # An example counts as truncated when any of its choices lost tokens.
        truncated = sum(
            any(length > self.max_length for length in lengths[i * self.num_choices : (i + 1) * self.num_choices])
            for i in range(len(examples))
        )
        report = TruncationReport(len(examples), truncated, self.max_length)
        return features, report_truncation(report, "multiple choice")

    def _check(self, example: Example, at: str) -> int:
        """The label's choice index, after checking the choices."""
        if example.choices is None or len(example.choices) != self.num_choices:
            count = "no" if example.choices is None else len(example.choices)
            raise DataError(
                f"{at} field 'choices' holds {count} choices; this format takes exactly {self.num_choices} "
                f"(label_names={self.label_names}): fix the data or pass matching label_names."
            )
        if example.label not in self._label_ids:
            raise DataError(
                f"{at} field 'label' holds {example.label!r}, which is not among the choice names "
                f"{self.label_names}: fix the data or pass the right label_names."
            )
        return self._label_ids[example.label]


def choice_inputs(tokenizer: Any, examples: list[Example], max_length: int) -> list[dict]:
    """Per example, its (question, choice) pairs as the multiple-choice format tokenises them: one
    list per choice under each key, each pair truncated to `max_length` (longest text first), with
    token_type_ids when the tokenizer makes them. Examples may differ in their number of choices."""
    questions = [example.text for example in examples for _ in cast(tuple[str, ...], example.choices)]
    choices = [choice for example in examples for choice in cast(tuple[str, ...], example.choices)]
    encoded = tokenizer(questions, choices, truncation=True, max_length=max_length)
    keys = [key for key in ("input_ids", "attention_mask", "token_type_ids") if key in encoded]
    features, first = [], 0
    for example in examples:
        rows = slice(first, first + len(cast(tuple[str, ...], example.choices)))
        features.append({key: list(encoded[key][rows]) for key in keys})
        first = rows.stop
    return features
