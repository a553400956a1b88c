"""Data for prefix methods: raw examples from many sources, splits, and task tokenisation."""

from prefixes.data.formats import (
    CausalGenerationFormat,
    ClassificationFormat,
    ExtractiveQAFormat,
    Seq2SeqGenerationFormat,
    TruncationReport,
    collate,
)
from prefixes.data.example import DataError, Example
from prefixes.data.sources import PACKAGED_SOURCES, load_source
from prefixes.data.splits import (
    deduplicate,
    fingerprint,
    load_examples,
    save_examples,
    split_examples,
)

__all__ = [
    "PACKAGED_SOURCES",
    "CausalGenerationFormat",
    "ClassificationFormat",
    "DataError",
    "Example",
    "ExtractiveQAFormat",
    "Seq2SeqGenerationFormat",
    "TruncationReport",
    "collate",
    "deduplicate",
    "fingerprint",
    "load_examples",
    "load_source",
    "save_examples",
    "split_examples",
]
