"""Deterministic stratified splits by source, fingerprints, and JSONL storage of examples."""

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
from prefixes.data.grouping import group_by_source

SPLIT_NAMES: tuple[str, ...] = ("train", "eval", "test")


def split_examples(
    examples: list[Example],
    *,
    seed: int,
    eval_fraction: float,
    test_fraction: float,
    max_examples: dict[str, int] | None = None,
) -> dict[str, list[Example]]:
    """Deduplicate, then split by source into "train", "eval" and "test", stratified by label.

    A source never appears in two splits: all its (source, target) pairs go to the same split, so
    multi-reference data trains on every pair of the train sources and scores against every
    reference of a test source. Fractions and `max_examples` caps (e.g. {"train": 400}, applied
    after splitting) count sources; for single-reference data a source is one example.

    The result depends only on the set of examples and `seed`, not on their input order: sources
    are first sorted by a content hash, then shuffled with `random.Random(seed)`.
    """
    _check_split_args(eval_fraction, test_fraction, max_examples)
    groups = _stratified_order(group_by_source(examples), seed)
    n_test = _split_size(len(groups), test_fraction)
    n_eval = _split_size(len(groups), eval_fraction)
    if n_test + n_eval >= len(groups):
        raise DataError(
            f"{len(groups)} unique sources leave nothing for training with eval_fraction="
            f"{eval_fraction} and test_fraction={test_fraction}: lower the fractions or add data."
        )
    splits = {
        "test": groups[:n_test],
        "eval": groups[n_test : n_test + n_eval],
        "train": groups[n_test + n_eval :],
    }
    caps = max_examples or {}
    return {
        name: [example for group in splits[name][: caps.get(name)] for example in group]
        for name in SPLIT_NAMES
    }


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


def _stratified_order(groups: list[list[Example]], seed: int) -> list[list[Example]]:
    """Order sources so that every contiguous slice holds the labels in dataset proportions.

    Each stratum (by the label of a source's first example) is hash-sorted and shuffled; its i-th
    member of n gets the position (i + 0.5) / n, and merging all strata by position interleaves
    them evenly. A source's examples are hash-sorted too, so no input order leaks through.
    """
    rng = random.Random(seed)
    stratified = all(example.label is not None for group in groups for example in group)
    # Content hashes are unique (duplicates are gone), so sorting never compares two Examples;
    # a single-example source sorts by its example's hash, as splits did before sources grouped.
    hashed = sorted(sorted((_content_hash(example), example) for example in group) for group in groups)
    strata: dict[str | None, list[list[Example]]] = defaultdict(list)
    for hashed_group in hashed:
        group = [example for _, example in hashed_group]
        strata[group[0].label if stratified else None].append(group)
    keyed: list[tuple[float, str, list[Example]]] = []
    for label in sorted(strata, key=str):
        stratum = strata[label]
        rng.shuffle(stratum)
        n = len(stratum)
        keyed.extend(((i + 0.5) / n, str(label), group) for i, group in enumerate(stratum))
    keyed.sort(key=lambda item: item[:2])
    return [group for _, _, group in keyed]


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
