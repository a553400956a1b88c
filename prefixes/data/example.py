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
    choices: tuple[str, ...] | None = None
    """Multiple choice: the candidate answers to the question in `text`; `label` names the right one."""


FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Example))

SQUAD_NAMES = {"question": "text", "context": "text_pair"}
"""SQuAD's names of the Example fields a QA row fills (its `answers` keep their name)."""
SQUAD_LABELS = ("id", "title")
"""What else a SQuAD row holds: names of the row and of its article, not read."""


def row_name(origin: str | None, index: int) -> str:
    """How an error names example `index` (from 0): "Example 3", or "<origin> row 4" (from 1)."""
    return f"{origin} row {index + 1}" if origin else f"Example {index}"


def check_answers(answers: tuple[tuple[str, int], ...], context: str, at: str) -> None:
    """Every (text, char_start) answer must be found at its offset in the context."""
    for text, char_start in answers:
        found = context[char_start : char_start + len(text)]
        if found != text:
            raise DataError(
                f"{at} holds ({text!r}, {char_start}) but the context has {found!r} there: "
                "fix the character offset (answer_start) or the answer text."
            )
