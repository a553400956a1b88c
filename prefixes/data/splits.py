"""Deduplication, deterministic stratified splits, fingerprints, and JSONL storage of examples."""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

from prefixes.data.example import FIELDS, DataError, Example

SPLIT_NAMES: tuple[str, ...] = ("train", "eval", "test")


def _dedup_key(example: Example) -> tuple[str, str]:
    """Whitespace- and case-normalised text (and text pair, so NLI premises may repeat)."""
    pair = example.text_pair or ""
    return " ".join(example.text.split()).casefold(), " ".join(pair.split()).casefold()


def deduplicate(examples: list[Example]) -> list[Example]:
    """Drop examples whose normalised text (and text pair) was already seen, keeping the first."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for example in examples:
        key = _dedup_key(example)
        if key not in seen:
            seen.add(key)
            kept.append(example)
    return kept


def split_examples(
    examples: list[Example],
    *,
    seed: int,
    eval_fraction: float,
    test_fraction: float,
    max_examples: dict[str, int] | None = None,
) -> dict[str, list[Example]]:
    """Deduplicate, then split into "train", "eval" and "test", stratified by label when labelled.

    The result depends only on the set of examples and `seed`, not on their input order: examples
    are first sorted by a content hash, then shuffled with `random.Random(seed)`. `max_examples`
    caps the size of each named split after splitting (e.g. {"train": 400}).
    """
    _check_split_args(eval_fraction, test_fraction, max_examples)
    unique = deduplicate(examples)
    ordered = _stratified_order(unique, seed)
    n_test = _split_size(len(unique), test_fraction)
    n_eval = _split_size(len(unique), eval_fraction)
    if n_test + n_eval >= len(unique):
        raise DataError(
            f"{len(unique)} unique examples leave nothing for training with eval_fraction="
            f"{eval_fraction} and test_fraction={test_fraction}: lower the fractions or add data."
        )
    splits = {
        "test": ordered[:n_test],
        "eval": ordered[n_test : n_test + n_eval],
        "train": ordered[n_test + n_eval :],
    }
    caps = max_examples or {}
    return {name: splits[name][: caps.get(name)] for name in SPLIT_NAMES}


def _check_split_args(
    eval_fraction: float, test_fraction: float, max_examples: dict[str, int] | None
) -> None:
    problems = [
        f"{name}={value} must be in [0, 1)"
        for name, value in (("eval_fraction", eval_fraction), ("test_fraction", test_fraction))
        if not 0 <= value < 1
    ]
    if eval_fraction + test_fraction >= 1:
        total = eval_fraction + test_fraction
        problems.append(f"eval_fraction + test_fraction = {total} must be < 1")
    for name, cap in (max_examples or {}).items():
        if name not in SPLIT_NAMES:
            problems.append(f"max_examples key {name!r} must be one of {list(SPLIT_NAMES)}")
        elif cap < 1:
            problems.append(f"max_examples[{name!r}]={cap} must be at least 1")
    if problems:
        raise DataError("Invalid split settings: " + "; ".join(problems) + ".")


def _split_size(total: int, fraction: float) -> int:
    # A non-zero fraction always yields at least one example, so tiny datasets still evaluate.
    return max(1, round(total * fraction)) if fraction > 0 else 0


def _stratified_order(examples: list[Example], seed: int) -> list[Example]:
    """Order examples so that every contiguous slice holds the labels in dataset proportions.

    Each stratum is hash-sorted and shuffled; its i-th member of n gets the position (i + 0.5) / n,
    and merging all strata by position interleaves them evenly.
    """
    rng = random.Random(seed)
    stratified = all(example.label is not None for example in examples)
    strata: dict[str | None, list[Example]] = defaultdict(list)
    for example in sorted(examples, key=_content_hash):
        strata[example.label if stratified else None].append(example)
    keyed: list[tuple[float, str, Example]] = []
    for label in sorted(strata, key=str):
        members = strata[label]
        rng.shuffle(members)
        n = len(members)
        keyed.extend(((i + 0.5) / n, str(label), example) for i, example in enumerate(members))
    keyed.sort(key=lambda item: item[:2])
    return [example for _, _, example in keyed]


def _content_hash(example: Example) -> str:
    return hashlib.sha256(_canonical_json(example).encode("utf-8")).hexdigest()


def _canonical_json(example: Example) -> str:
    return json.dumps(example_to_dict(example), sort_keys=True, ensure_ascii=False)


def example_to_dict(example: Example) -> dict[str, Any]:
    """Plain JSON-ready dict of an Example (answers become lists of [text, start]).

    `choices` is left out when None, so examples without choices keep the canonical JSON (and so
    the hashes, split order and fingerprints) they had before the field existed.
    """
    data = asdict(example)
    if example.answers is not None:
        data["answers"] = [list(answer) for answer in example.answers]
    if example.choices is None:
        del data["choices"]
    else:
        data["choices"] = list(example.choices)
    return data


def example_from_dict(data: dict[str, Any]) -> Example:
    """Inverse of `example_to_dict`."""
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise DataError(f"unknown field(s) {unknown}; Example fields are {list(FIELDS)}")
    answers = data.get("answers")
    if answers is not None:
        data = {**data, "answers": tuple((str(text), int(start)) for text, start in answers)}
    if data.get("choices") is not None:
        data = {**data, "choices": tuple(str(choice) for choice in data["choices"])}
    return Example(**data)


def fingerprint(examples: list[Example]) -> str:
    """sha256 hex digest of the examples in order; any change to any field changes it."""
    digest = hashlib.sha256()
    for example in examples:
        digest.update(_canonical_json(example).encode("utf-8"))
        digest.update(b"\n")  # JSON never holds a raw newline, so records cannot run together
    return digest.hexdigest()


def save_examples(path: str | os.PathLike[str], examples: list[Example]) -> None:
    """Write one JSON object per line; `load_examples` returns exactly the same list."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(_canonical_json(example) + "\n")


def load_examples(path: str | os.PathLike[str]) -> list[Example]:
    """Read a file written by `save_examples`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"File {path} does not exist: write it with save_examples() first.")
    examples = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            try:
                examples.append(example_from_dict(json.loads(line)))
            except (json.JSONDecodeError, TypeError, ValueError) as err:
                raise DataError(
                    f"File {path} line {line_no} is not a saved Example ({err}): "
                    "regenerate it with save_examples()."
                ) from err
    return examples
