"""Records (rows of a file or a hub dataset) into `Example`s: which column feeds which field, and
how each value is read. A column may name a nested field with dots, as hub datasets nest them
(WMT's `translation.de`, SQuAD's `answers`), and every bad value raises `DataError` naming where.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prefixes.data.example import FIELDS, SQUAD_NAMES, DataError, Example, check_answers

_MISSING = object()


def resolve_columns(
    columns: Mapping[str, str] | None, available: list[str], *, where: str
) -> dict[str, str]:
    """Map Example field -> column: mapped columns must exist (a dotted name by its first part, the
    nested rest is checked per record); same-name columns are optional."""
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(FIELDS))
    if unknown:
        raise DataError(
            f"{where}: `columns` names unknown Example field(s) {unknown}; "
            f"keys must be among {list(FIELDS)}."
        )
    for field, column in columns.items():
        if column not in available and column.split(".")[0] not in available:
            raise DataError(
                f"{where} has no column {column!r} (mapped to field {field!r}); "
                f"available columns: {available}. Fix `columns` (a dotted name such as 'translation.de' "
                "reaches a nested field)."
            )
    mapping = {field: field for field in FIELDS if field in available}
    if {"question", "context"} <= set(available) and not {"text", "text_pair"} & set(mapping):
        mapping |= {field: column for column, field in SQUAD_NAMES.items()}  # a SQuAD-style table, as it comes
    mapping |= columns
    if "text" not in mapping:
        raise DataError(
            f"{where} has no column 'text'; available columns: {available}. "
            "Map the input text column to the field 'text' in the task's `columns` "
            "(in YAML: `columns: {text: <column>}`)."
        )
    return mapping


def column_value(row: Mapping[str, Any], column: str, at: str) -> Any:
    """The record's value of ``column``: a column of that exact name, else the dotted path into
    nested mappings (a missing top-level column reads as None, i.e. an empty cell)."""
    if column in row or "." not in column:
        return row.get(column)
    value: Any = row
    for depth, part in enumerate(column.split(".")):
        if value is None:  # an empty cell at any depth reads as empty
            return None
        if not isinstance(value, Mapping):
            parent = ".".join(column.split(".")[:depth])
            raise DataError(f"{at}: {parent!r} holds a {type(value).__name__}, not a mapping: "
                            f"map the field to {parent!r} itself, without the dotted part.")
        found = value.get(part, _MISSING)
        if found is _MISSING:
            if depth == 0:
                return None
            raise DataError(f"{at} has no nested field {part!r} (it holds {sorted(value)}): fix the dotted column name.")
        value = found
    return value


def nested_feature(features: Mapping[str, Any], column: str) -> Any:
    """The hub feature (e.g. a ClassLabel) of a possibly dotted column, or None."""
    feature: Any = features
    for part in column.split("."):
        if not isinstance(feature, Mapping) or part not in feature:
            return None
        feature = feature[part]
    return feature


def rows_to_examples(
    rows: Iterable[Mapping[str, Any]],
    mapping: Mapping[str, str],
    *,
    where: str,
    name_label: Callable[[int], str] | None = None,
    first_line: int | None = None,
) -> Iterator[Example]:
    """Turn records into Examples; `mapping` is Example field -> column. Records count from 1; a
    text file's records (`first_line` given: the line of the first record) are named by line."""
    for record, row in enumerate(rows, start=1):
        values: dict[str, Any] = {}
        place = f"record {record}" if first_line is None else f"line {first_line + record - 1}"
        for field, column in mapping.items():
            at = f"{where} column {column!r} {place}"
            value = column_value(row, column, at)
            if field == "answers":
                values[field] = _to_answers(value, at)
            elif field == "choices":
                values[field] = _to_choices(value, at)
            elif field == "label":
                values[field] = _to_label(value, at, name_label)
            else:
                values[field] = _to_text(value, at)
        if values.get("answers") and "text_pair" in values:
            at = f"{where} column {mapping['answers']!r} {place}"
            check_answers(values["answers"], values["text_pair"], at)
        yield Example(**values)


def _to_choices(value: Any, at: str) -> tuple[str, ...]:
    """A list of choice texts, or a hub-style {"label": [...], "text": [...]} mapping."""
    if isinstance(value, Mapping) and "text" in value:
        value = value["text"]
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise DataError(f"{at} holds choices that are not JSON ({err}): write a JSON list of strings.") from None
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(c, str) and c.strip() for c in value):
        raise DataError(
            f"{at} holds choices {value!r}: use a non-empty list of non-empty strings "
            '(or {"label": [...], "text": [...]}).'
        )
    return tuple(value)


def _to_text(value: Any, at: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DataError(f"{at} is empty: fill it in or drop the record.")
    if not isinstance(value, str):
        raise DataError(
            f"{at} holds {value!r} ({type(value).__name__}), not a string: "
            "map a text column to this field."
        )
    return value


def _to_label(value: Any, at: str, name_label: Callable[[int], str] | None) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DataError(f"{at} has no label: fill it in or drop the record.")
    if name_label is not None:
        return name_label(int(value))
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):  # numpy ints too; numeric labels become their digits
        return str(int(value))
    raise DataError(
        f"{at} holds label {value!r} ({type(value).__name__}): "
        "labels must be strings or integers."
    )


def _to_answers(value: Any, at: str) -> tuple[tuple[str, int], ...]:
    """Read SQuAD dicts, lists of {text, answer_start} or of (text, start), or any as JSON text."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise DataError(f"{at} holds answers that are not JSON ({err}).") from err
    try:
        if isinstance(value, Mapping):  # SQuAD: {"text": [...], "answer_start": [...]}
            texts, starts = list(value["text"]), list(value["answer_start"])
            if len(texts) != len(starts):
                raise ValueError("'text' and 'answer_start' differ in length")
            pairs: Iterable[tuple[Any, ...]] = zip(texts, starts)
        else:
            pairs = [
                (item["text"], item["answer_start"]) if isinstance(item, Mapping) else tuple(item)
                for item in value
            ]
        answers = tuple((str(text), int(start)) for text, start in pairs)
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(
            f"{at} holds answers {value!r} that cannot be read ({err}): use "
            '{"text": [...], "answer_start": [...]} or a list of [answer_text, char_start] pairs.'
        ) from err
    return answers
