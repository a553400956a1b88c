"""Data for prefix methods: raw examples from many sources, splits, and task tokenisation.

Names are imported on first use: sources and splits need no torch, the task formats do, so a
torch-free caller (params validation) can read `prefixes.data.sources` without paying for it.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "CausalGenerationFormat": "prefixes.data.formats",
    "ClassificationFormat": "prefixes.data.formats",
    "ExtractiveQAFormat": "prefixes.data.formats",
    "MultipleChoiceFormat": "prefixes.data.formats",
    "Seq2SeqGenerationFormat": "prefixes.data.formats",
    "TruncationReport": "prefixes.data.formats",
    "collate": "prefixes.data.formats",
    "PACKAGED_SOURCES": "prefixes.data.sources",
    "DataError": "prefixes.data.example",
    "Example": "prefixes.data.example",
    "load_source": "prefixes.data.sources",
    "deduplicate": "prefixes.data.grouping",
    "references_by_source": "prefixes.data.grouping",
    "fingerprint": "prefixes.data.splits",
    "load_examples": "prefixes.data.splits",
    "save_examples": "prefixes.data.splits",
    "split_examples": "prefixes.data.splits",
}

__all__ = list(sorted(_EXPORTS))


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'prefixes.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
