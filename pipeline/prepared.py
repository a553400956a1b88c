"""A task's prepared data: its splits as JSON lines and a summary with fingerprints (torch-free)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

from pipeline.layout import PREPARED_SUMMARY, SPLITS, split_file
from pipeline.params import LABELLED_FORMATS, TaskConfig
from prefixes.data.sources import load_source
from prefixes.data.splits import fingerprint, load_examples, save_examples, split_examples


def prepare_task(task: TaskConfig, *, seed: int, output_dir: str | Path) -> dict:
    """Write the task's splits and a summary with fingerprints (and label or choice names where the format has them)."""
    examples = load_source(task.source, columns=task.columns)
    splits = split_examples(
        examples, seed=seed, eval_fraction=task.eval_fraction, test_fraction=task.test_fraction,
        max_examples=cast("dict[str, int] | None", task.max_examples),
    )
    output_dir = Path(output_dir)  # created only once the data loaded and split: nothing partial
    output_dir.mkdir(parents=True, exist_ok=True)
    summary: dict = {"source": task.source, "seed": seed, "fingerprints": {}, "counts": {}}
    for name in SPLITS:
        save_examples(output_dir / split_file(name), splits[name])
        summary["fingerprints"][name] = fingerprint(splits[name])
        summary["counts"][name] = len(splits[name])
    summary["fingerprint"] = fingerprint(splits["train"] + splits["eval"] + splits["test"])
    if task.format in LABELLED_FORMATS:  # read off the whole source: a small split may miss a label
        summary["label_names"] = sorted({example.label for example in examples})
    (output_dir / PREPARED_SUMMARY).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def read_prepared(directory: str | Path) -> tuple[dict, dict]:
    """The summary and the three splits written by ``prepare_task``."""
    directory = Path(directory)
    summary = json.loads((directory / PREPARED_SUMMARY).read_text())
    return summary, {name: load_examples(directory / split_file(name)) for name in SPLITS}
