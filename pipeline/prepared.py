"""A task's prepared data: its splits as JSON lines and a summary with fingerprints and counts (torch-free)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

from pipeline.labels import normalize_labels
from pipeline.layout import PREPARED_SUMMARY, SPLITS, split_file
from pipeline.params import LABELLED_FORMATS, TaskConfig
from prefixes.data.example import Example
from prefixes.data.grouping import count_sources
from prefixes.data.sources import load_source
from prefixes.data.splits import fingerprint, load_examples, save_examples, split_examples


def split_task(task: TaskConfig, *, seed: int) -> tuple[dict[str, list[Example]], list[str] | None]:
    """The task's splits (by source, see `split_examples`) and, where the format has them, its label
    (or choice) names, read off the whole source: a small split may miss a label. With
    `normalize_labels`, labels are stripped and case-folded first, so their variants split as one class."""
    examples = load_source(task.source, columns=task.columns, split=task.split, dataset_config=task.dataset_config)
    if task.normalize_labels:
        examples = normalize_labels(examples)
    splits = split_examples(
        examples, seed=seed, eval_fraction=task.eval_fraction, test_fraction=task.test_fraction,
        max_examples=cast("dict[str, int] | None", task.max_examples),
    )
    labels = sorted({str(example.label) for example in examples}) if task.format in LABELLED_FORMATS else None
    return splits, labels


def write_prepared(task: TaskConfig, *, seed: int, splits: dict[str, list[Example]], label_names: list[str] | None,
                   output_dir: str | Path, truncation: dict, truncation_warnings: list[str]) -> dict:
    """Write the splits and data.json: fingerprints, pairs (`counts`) and `sources` per split, the
    measured `truncation` per split and its warnings, and label names for classification."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    summary: dict = {"source": task.source, "seed": seed, "fingerprints": {}, "counts": {}, "sources": {},
                     "truncation": truncation, "truncation_warnings": truncation_warnings}
    for name in SPLITS:
        save_examples(output_dir / split_file(name), splits[name])
        summary["fingerprints"][name] = fingerprint(splits[name])
        summary["counts"][name] = len(splits[name])
        summary["sources"][name] = count_sources(splits[name])
    summary["fingerprint"] = fingerprint(splits["train"] + splits["eval"] + splits["test"])
    if label_names is not None:
        summary["label_names"] = label_names
    (output_dir / PREPARED_SUMMARY).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def read_prepared(directory: str | Path) -> tuple[dict, dict]:
    """The summary and the three splits written by ``write_prepared``."""
    directory = Path(directory)
    summary = json.loads((directory / PREPARED_SUMMARY).read_text())
    return summary, {name: load_examples(directory / split_file(name)) for name in SPLITS}
