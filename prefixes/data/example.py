"""The raw example every source produces and every task format reads, and the data error type."""

from __future__ import annotations

from dataclasses import dataclass, fields


class DataError(ValueError):
    """Bad input data: the message says which file, column and value, and how to fix it."""


@dataclass(frozen=True)
class Example:
    """One raw example, independent of how a task format will tokenise it."""

    text: str
    """Classification text, generation source, or QA question."""
    label: str | None = None
    """Classification label name."""
    text_pair: str | None = None
    """Second text for pair classification (NLI), or the context for extractive QA."""
    target: str | None = None
    """Generation target or dialogue reply."""
    answers: tuple[tuple[str, int], ...] | None = None
    """Extractive QA answers as (answer_text, char_start in text_pair)."""


FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Example))
