"""Truncation accounting shared by every task format: counted, reported, and logged."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100
"""Label value that the transformers losses skip."""


@dataclass
class TruncationReport:
    """How many of `total` encoded examples lost tokens to the `max_length` limit."""

    total: int
    truncated: int
    max_length: int
    answers_lost: int = 0
    """Extractive QA only: examples whose answer span was cut off by truncation."""

    @property
    def fraction(self) -> float:
        """Share of the examples truncated, in [0, 1]; 0 for no examples."""
        return self.truncated / self.total if self.total else 0.0

    def __str__(self) -> str:
        text = f"{self.truncated}/{self.total} examples truncated to {self.max_length} tokens"
        return text + (f", {self.answers_lost} lost their answer" if self.answers_lost else "")


def report_truncation(report: TruncationReport, what: str) -> TruncationReport:
    """Log a warning when anything was truncated, and return the report."""
    if report.truncated:
        logger.warning("%s: %s", what, report)
    return report


def token_counts(tokenizer: Any, texts: list[str], pairs: list[str] | None = None) -> list[int]:
    """Untruncated token counts (special tokens included) of each text or text pair."""
    # verbose=False: the tokenizer's "longer than model_max_length" warning is what we count.
    encoded = tokenizer(texts, pairs, truncation=False, verbose=False)
    return [len(ids) for ids in encoded["input_ids"]]
