"""Raw examples from packaged corpora, local files, or hub datasets.

Every source ends up as a list of `Example`s in a deterministic order. Bad input raises `DataError`
with a message that names the file, the column, the bad value and what to do instead.
"""

from __future__ import annotations

import difflib
import json
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import Any

from prefixes.data.example import FIELDS, DataError, Example, check_answers
from prefixes.data.packaged import iter_packaged
from prefixes.data.vendored import VENDORED_SOURCES

PACKAGED_SOURCES: tuple[str, ...] = (
    "bbc_news", "drug_reviews", "chitchat", "chatterbot_qa", *VENDORED_SOURCES
)
FILE_SUFFIXES: tuple[str, ...] = (".csv", ".tsv", ".jsonl", ".json", ".parquet")


def load_source(
    source: str,
    *,
    columns: dict[str, str] | None = None,
    split: str | None = None,
    limit: int | None = None,
) -> list[Example]:
    """Load the examples of `source` in a deterministic order.

    `source` is one of `PACKAGED_SOURCES`, a local file (.csv .tsv .jsonl .json .parquet), or a
    hub dataset id. For files and hub datasets, `columns` maps Example field -> column name;
    unmapped fields use a column of the field's own name when one exists. `split` picks the
    hub split (default "train") or the drug_reviews split ("train" or "test"; default both).
    `limit` keeps the first `limit` examples.
    """
    if limit is not None and limit < 1:
        raise DataError(f"limit={limit} for source {source!r}: pass a positive number or None.")
    examples = list(islice(_iter_source(source, columns, split), limit))
    if not examples:
        raise DataError(
            f"Source {source!r} (split={split!r}) holds no examples: "
            "point it at a non-empty dataset."
        )
    return examples


def _iter_source(
    source: str, columns: dict[str, str] | None, split: str | None
) -> Iterator[Example]:
    if source in PACKAGED_SOURCES:
        if columns is not None:
            raise DataError(
                f"columns={columns!r} given for packaged source {source!r}: its fields are fixed; "
                "drop `columns` (it applies to files and hub datasets)."
            )
        return iter_packaged(source, split)
    path = Path(source)
    if path.suffix.lower() in FILE_SUFFIXES or path.exists():
        if split is not None:
            raise DataError(
                f"split={split!r} given for file {source}: a file is a single split; drop `split`."
            )
        return _iter_file(path, columns)
    return _iter_hub(source, columns, split)


def _iter_file(path: Path, columns: dict[str, str] | None) -> Iterator[Example]:
    rows, available = _read_rows(path)
    if not rows:
        raise DataError(f"File {path} holds no records: write at least one example to it.")
    mapping = _resolve_columns(columns, available, where=f"File {path}")
    return _rows_to_examples(rows, mapping, where=f"File {path}")


def _read_rows(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Read a local file into records plus its column names."""
    suffix = path.suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise DataError(
            f"File {path} has an unsupported extension {path.suffix!r}: use one of "
            f"{', '.join(FILE_SUFFIXES)}."
        )
    if not path.is_file():
        raise DataError(f"File {path} does not exist: check the path (relative to {Path.cwd()}).")
    try:
        if suffix in (".csv", ".tsv"):
            import pandas as pd

            # Read every cell as a string so labels like "01" and empty cells survive unchanged.
            frame = pd.read_csv(
                path, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False
            )
            return frame.to_dict("records"), list(frame.columns)
        if suffix == ".parquet":
            import pandas as pd

            frame = pd.read_parquet(path)
            # NaN / pd.NA become None so that missing cells are recognised uniformly.
            frame = frame.astype(object).where(frame.notna(), None)
            return frame.to_dict("records"), list(frame.columns)
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as err:  # pandas/pyarrow parse errors are ValueErrors
        raise DataError(f"File {path} could not be read ({err}): check that it is valid {suffix}.") from err
    rows = _parse_jsonl(path, text) if suffix == ".jsonl" else _parse_json(path, text)
    available = list(dict.fromkeys(key for row in rows for key in row))
    return rows, available


def _parse_jsonl(path: Path, text: str) -> list[dict[str, Any]]:
    rows = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"File {path} line {line_no} is not valid JSON ({err}): fix that line.") from err
        if not isinstance(row, dict):
            raise DataError(
                f"File {path} line {line_no} holds a {type(row).__name__}, not an object: "
                'write one {"column": value, ...} object per line.'
            )
        rows.append(row)
    return rows


def _parse_json(path: Path, text: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"File {path} is not valid JSON ({err}): fix the file or use .jsonl.") from err
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise DataError(
            f"File {path} must hold a JSON list of objects (one per example); it holds "
            f"{type(data).__name__}. Convert nested formats (e.g. SQuAD) to one object per example."
        )
    return data


def _iter_hub(source: str, columns: dict[str, str] | None, split: str | None) -> Iterator[Example]:
    import datasets

    hub_split = split or "train"
    try:
        dataset = datasets.load_dataset(source, split=hub_split)
    except Exception as err:  # the hub raises many unrelated types; all mean "could not load"
        close = difflib.get_close_matches(source, PACKAGED_SOURCES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise DataError(
            f"Unknown source {source!r}: it is not a packaged source "
            f"({', '.join(PACKAGED_SOURCES)}), not a local file ({', '.join(FILE_SUFFIXES)}), "
            f"and the hub could not load split {hub_split!r} ({type(err).__name__}: {err}).{hint}"
        ) from err
    where = f"Hub dataset {source} split {hub_split}"
    mapping = _resolve_columns(columns, list(dataset.column_names), where=where)
    label_feature = dataset.features.get(mapping["label"]) if "label" in mapping else None
    # Hub labels are usually ClassLabel ints; Example labels are names.
    name_label = label_feature.int2str if isinstance(label_feature, datasets.ClassLabel) else None
    return _rows_to_examples(dataset, mapping, where=where, name_label=name_label)


def _resolve_columns(
    columns: Mapping[str, str] | None, available: list[str], *, where: str
) -> dict[str, str]:
    """Map Example field -> column: mapped columns must exist; same-name columns are optional."""
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(FIELDS))
    if unknown:
        raise DataError(
            f"{where}: `columns` names unknown Example field(s) {unknown}; "
            f"keys must be among {list(FIELDS)}."
        )
    for field, column in columns.items():
        if column not in available:
            raise DataError(
                f"{where} has no column {column!r} (mapped to field {field!r}); "
                f"available columns: {available}. Fix `columns`."
            )
    mapping = {field: field for field in FIELDS if field in available} | columns
    if "text" not in mapping:
        raise DataError(
            f"{where} has no column 'text'; available columns: {available}. "
            "Pass columns={'text': <column>} naming the input text column."
        )
    return mapping


def _rows_to_examples(
    rows: Iterable[Mapping[str, Any]],
    mapping: Mapping[str, str],
    *,
    where: str,
    name_label: Callable[[int], str] | None = None,
) -> Iterator[Example]:
    """Turn records into Examples; `mapping` is Example field -> column. Records count from 1."""
    for record, row in enumerate(rows, start=1):
        values: dict[str, Any] = {}
        for field, column in mapping.items():
            value = row.get(column)
            at = f"{where} column {column!r} record {record}"
            if field == "answers":
                values[field] = _to_answers(value, at)
            elif field == "choices":
                values[field] = _to_choices(value, at)
            elif field == "label":
                values[field] = _to_label(value, at, name_label)
            else:
                values[field] = _to_text(value, at)
        if values.get("answers") and "text_pair" in values:
            at = f"{where} column {mapping['answers']!r} record {record}"
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
