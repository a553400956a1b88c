"""Readers for the real dataset samples shipped inside this package (`prefixes/data/corpora/`).

Each folder holds the published file(s), byte-identical or a stated first-N-lines subset, with a
LICENSE.md giving the source, the subset and the license. Every reader yields `Example`s in file
order and checks each record, naming the file, the row and the field when one is malformed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prefixes.data.example import DataError, Example, check_answers

CORPORA_DIR = Path(__file__).parent / "corpora"
NLI_LABELS: tuple[str, ...] = ("entailment", "neutral", "contradiction")
CHOICE_LABELS: tuple[str, ...] = ("A", "B", "C", "D", "E")
IMDB_LABELS: dict[str, str] = {"0": "negative", "1": "positive"}


def _lines(path: Path) -> list[str]:
    """Lines of a UTF-8 text file without their line ends (and the tokenized files' trailing space)."""
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]


def _aligned(*paths: Path) -> list[tuple[str, ...]]:
    """Rows of line-aligned files; unequal line counts are an error naming the files."""
    columns = [_lines(path) for path in paths]
    if len({len(column) for column in columns}) != 1:
        counts = ", ".join(f"{path.name}: {len(column)}" for path, column in zip(paths, columns))
        raise DataError(f"Line-aligned files in {paths[0].parent} differ in length ({counts}): restore them.")
    return list(zip(*columns))


def _require(value: Any, at: str, what: str) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DataError(f"{at} has no {what}: restore the file from its source (see LICENSE.md).")
    return value


def _snli() -> Iterator[Example]:
    """Premise (`text`), hypothesis (`text_pair`), label in NLI_LABELS."""
    folder = CORPORA_DIR / "snli"
    files = [folder / f"esnli_snli_dev.{part}" for part in ("s1", "s2", "labels")]
    for row, (premise, hypothesis, label) in enumerate(_aligned(*files), start=1):
        at = f"File {folder}/esnli_snli_dev.* row {row}"
        if label not in NLI_LABELS:
            raise DataError(f"{at} field 'label' holds {label!r}; expected one of {list(NLI_LABELS)}.")
        yield Example(
            text=_require(premise, at, "field 'text' (s1)"),
            text_pair=_require(hypothesis, at, "field 'text_pair' (s2)"),
            label=label,
        )


def _xquad_en() -> Iterator[Example]:
    """SQuAD v1.1 JSON: question (`text`), paragraph (`text_pair`), all gold answers with offsets."""
    path = CORPORA_DIR / "xquad_en" / "xquad.en.json"
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    for article in data:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                at = f"File {path} question id {qa.get('id')!r}"
                answers = tuple(_squad_answer(answer, f"{at} field 'answers'") for answer in qa.get("answers") or [])
                if not answers:
                    raise DataError(f"{at} field 'answers' is empty: SQuAD v1.1 questions all have answers.")
                check_answers(answers, context, f"{at} field 'answers'")
                yield Example(text=_require(qa.get("question"), at, "field 'question'"), text_pair=context, answers=answers)


def _squad_answer(answer: dict, at: str) -> tuple[str, int]:
    if not isinstance(answer.get("text"), str) or not isinstance(answer.get("answer_start"), int):
        raise DataError(f"{at} holds {answer!r}: each answer needs a 'text' and an integer 'answer_start' offset.")
    return answer["text"], answer["answer_start"]


def _commonsense_qa() -> Iterator[Example]:
    """Question (`text`), the five choice texts (`choices`), the answer key A-E (`label`)."""
    path = CORPORA_DIR / "commonsense_qa" / "commonsenseqa_dev_rand_split.hf.jsonl"
    for row, line in enumerate(_lines(path), start=1):
        record = json.loads(line)
        at = f"File {path} row {row}"
        choices = record.get("choices") or {}
        if tuple(choices.get("label") or ()) != CHOICE_LABELS or len(choices.get("text") or ()) != len(CHOICE_LABELS):
            raise DataError(
                f"{at} field 'choices' holds {choices!r}: expected {len(CHOICE_LABELS)} choices labelled "
                f"{list(CHOICE_LABELS)}."
            )
        if record.get("answerKey") not in CHOICE_LABELS:
            raise DataError(f"{at} field 'answerKey' holds {record.get('answerKey')!r}; expected one of {list(CHOICE_LABELS)}.")
        yield Example(
            text=_require(record.get("question"), at, "field 'question'"),
            choices=tuple(_require(text, at, "choice text") for text in choices["text"]),
            label=record["answerKey"],
        )


def _wmt21_de_en() -> Iterator[Example]:
    """German source sentence (`text`) -> English reference A (`target`)."""
    folder = CORPORA_DIR / "wmt21_de_en"
    files = [folder / "newstest2021.de-en.src.de", folder / "newstest2021.de-en.ref.A.en"]
    for row, (source, reference) in enumerate(_aligned(*files), start=1):
        at = f"File {folder}/newstest2021.de-en.* row {row}"
        yield Example(text=_require(source, at, "source (src.de)"), target=_require(reference, at, "reference (ref.A.en)"))


def _scitldr() -> Iterator[Example]:
    """Abstract (`text`, its sentences space-joined) -> each of its TLDRs (`target`): the author's and
    the peer-review-derived ones, one example each, so a split keeps every reference of a source."""
    path = CORPORA_DIR / "scitldr" / "scitldr_A_test.jsonl"
    for row, line in enumerate(_lines(path), start=1):
        record = json.loads(line)
        at = f"File {path} row {row}"
        sentences, tldrs = record.get("source") or [], record.get("target") or []
        abstract = _require(" ".join(sentence.strip() for sentence in sentences), at, "field 'source'")
        _require(tldrs, at, "field 'target'")
        for tldr in tldrs:
            yield Example(text=abstract, target=_require(tldr, at, "a TLDR in field 'target'"))


def _imdb() -> Iterator[Example]:
    """Review (`text`) with label "negative" or "positive" from the leading 0 / 1."""
    path = CORPORA_DIR / "imdb" / "textfooler_imdb.txt"
    for row, line in enumerate(_lines(path), start=1):
        digit, _, review = line.partition(" ")
        at = f"File {path} row {row}"
        if digit not in IMDB_LABELS:
            raise DataError(f"{at} field 'label' holds {digit!r}; expected one of {list(IMDB_LABELS)}.")
        yield Example(text=_require(review, at, "review text"), label=IMDB_LABELS[digit])


_READERS: dict[str, Callable[[], Iterator[Example]]] = {
    "snli": _snli,
    "xquad_en": _xquad_en,
    "commonsense_qa": _commonsense_qa,
    "wmt21_de_en": _wmt21_de_en,
    "scitldr": _scitldr,
    "imdb": _imdb,
}
VENDORED_SOURCES: tuple[str, ...] = tuple(_READERS)


def iter_vendored(source: str) -> Iterator[Example]:
    """Examples of one of `VENDORED_SOURCES`, in file order."""
    return _READERS[source]()
