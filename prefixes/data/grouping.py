"""Examples grouped by source: one source may hold several references (targets).

Data-to-text, summarisation and translation sets often pair one source with several targets.
De-duplication keys on (source, target), so every distinct reference survives; splits keep a
source's pairs together, and scoring compares a prediction against all references of its source.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefixes.data.example import Example


def _normalised(text: str) -> str:
    return " ".join(text.split()).casefold()


def source_key(example: Example) -> tuple[str, str]:
    """Whitespace- and case-normalised text and text pair (NLI premises may repeat across texts)."""
    return _normalised(example.text), _normalised(example.text_pair or "")


def deduplicate(examples: list[Example]) -> list[Example]:
    """Drop repeats of a normalised (source, target), keeping the first.

    An example without a target repeats any earlier example of its source (a classification text
    keeps its first label); one with a target repeats only the same normalised target.
    """
    sources: set[tuple[str, str]] = set()
    closed: set[tuple[str, str]] = set()  # kept without a target: nothing joins these sources
    pairs: set[tuple[tuple[str, str], str]] = set()
    kept = []
    for example in examples:
        source = source_key(example)
        if example.target is None:
            if source in sources:
                continue
            closed.add(source)
        else:
            pair = (source, _normalised(example.target))
            if source in closed or pair in pairs:
                continue
            pairs.add(pair)
        sources.add(source)
        kept.append(example)
    return kept


def group_by_source(examples: list[Example]) -> list[list[Example]]:
    """The de-duplicated examples of each source, sources in order of first appearance."""
    groups: dict[tuple, list[Example]] = {}
    for example in deduplicate(examples):
        groups.setdefault(source_key(example), []).append(example)
    return list(groups.values())


def count_sources(examples: list[Example]) -> int:
    """How many distinct (normalised) sources the examples hold."""
    return len({source_key(example) for example in examples})


@dataclass(frozen=True)
class SourceReferences:
    """A source's first example and the targets of all its examples (its references)."""

    example: Example
    references: tuple[str, ...]


def references_by_source(examples: list[Example]) -> list[SourceReferences]:
    """One entry per source with every reference, in order of first appearance; for scoring."""
    grouped = []
    for group in group_by_source(examples):
        references = tuple(example.target for example in group if example.target is not None)
        grouped.append(SourceReferences(group[0], references))
    return grouped
