"""Raw examples from packaged corpora, local files, or hub datasets.

Every source ends up as a list of `Example`s in a deterministic order. Bad input raises `DataError`
with a message that names the file, the column, the bad value and what to do instead.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from prefixes.data.example import DataError, Example
from prefixes.data.packaged import iter_packaged
from prefixes.data.records import nested_feature, resolve_columns, rows_to_examples
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
    dataset_config: str | None = None,
    limit: int | None = None,
) -> list[Example]:
    """Load the examples of `source` in a deterministic order.

    `source` is one of `PACKAGED_SOURCES`, a local file (.csv .tsv .jsonl .json .parquet), a hub
    dataset id, or a local dataset folder laid out as the hub lays one out. For files and hub
    datasets, `columns` maps Example field -> column name, dotted for a nested field
    (``{"text": "translation.de", "target": "translation.en"}``); unmapped fields use a column of
    the field's own name when one exists. `split` picks the hub split (default "train") or the
    drug_reviews split ("train" or "test"; default both). `dataset_config` names the hub dataset's
    configuration (CNN/DailyMail's "3.0.0", WMT's "de-en"). `limit` keeps the first `limit` examples.
    """
    if limit is not None and limit < 1:
        raise DataError(f"limit={limit} for source {source!r}: pass a positive number or None.")
    if dataset_config is not None and (source in PACKAGED_SOURCES or Path(source).suffix.lower() in FILE_SUFFIXES):
        raise DataError(
            f"dataset_config={dataset_config!r} given for {source!r}: only hub datasets have configurations; "
            "drop `dataset_config`."
        )
    examples = list(islice(_iter_source(source, columns, split, dataset_config), limit))
    if not examples:
        raise DataError(
            f"Source {source!r} (split={split!r}) holds no examples: "
            "point it at a non-empty dataset."
        )
    return examples


def _iter_source(
    source: str, columns: dict[str, str] | None, split: str | None, dataset_config: str | None
) -> Iterator[Example]:
    if source in PACKAGED_SOURCES:
        if columns is not None:
            raise DataError(
                f"columns={columns!r} given for packaged source {source!r}: its fields are fixed; "
                "drop `columns` (it applies to files and hub datasets)."
            )
        return iter_packaged(source, split)
    path = Path(source)
    if path.suffix.lower() in FILE_SUFFIXES or path.is_file():
        if split is not None:
            raise DataError(
                f"split={split!r} given for file {source}: a file is a single split; drop `split`."
            )
        return _iter_file(path, columns)
    return _iter_hub(source, columns, split, dataset_config)


def _iter_file(path: Path, columns: dict[str, str] | None) -> Iterator[Example]:
    rows, available = _read_rows(path)
    if not rows:
        raise DataError(f"File {path} holds no records: write at least one example to it.")
    mapping = resolve_columns(columns, available, where=f"File {path}")
    # A CSV or TSV record is named by its line (the header is line 1), as an editor shows it.
    first_line = 2 if path.suffix.lower() in (".csv", ".tsv") else None
    return rows_to_examples(rows, mapping, where=f"File {path}", first_line=first_line)


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


def _iter_hub(
    source: str, columns: dict[str, str] | None, split: str | None, dataset_config: str | None
) -> Iterator[Example]:
    import datasets

    hub_split = split or "train"
    try:
        dataset = datasets.load_dataset(source, name=dataset_config, split=hub_split)
    except Exception as err:  # the hub raises many unrelated types; all mean "could not load"
        close = difflib.get_close_matches(source, PACKAGED_SOURCES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        config = f" with dataset_config={dataset_config!r}" if dataset_config else ""
        raise DataError(
            f"Unknown source {source!r}: it is not a packaged source "
            f"({', '.join(PACKAGED_SOURCES)}), not a local file ({', '.join(FILE_SUFFIXES)}), "
            f"and the hub could not load split {hub_split!r}{config} ({type(err).__name__}: {err}).{hint} "
            "A hub dataset with several configurations needs `dataset_config` "
            "(datasets.get_dataset_config_names lists them)."
        ) from err
    where = f"Hub dataset {source}{f' config {dataset_config}' if dataset_config else ''} split {hub_split}"
    mapping = resolve_columns(columns, list(dataset.column_names), where=where)
    label_feature = nested_feature(dataset.features, mapping["label"]) if "label" in mapping else None
    # Hub labels are usually ClassLabel ints; Example labels are names.
    name_label = label_feature.int2str if isinstance(label_feature, datasets.ClassLabel) else None
    return rows_to_examples(dataset, mapping, where=where, name_label=name_label)
