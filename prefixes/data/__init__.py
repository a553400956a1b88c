"""Data for prefix methods: raw examples from many sources, splits, and task tokenisation.

Names are imported on first use: sources and splits need no torch, the task formats do, so a
torch-free caller (params validation) can read `prefixes.data.sources` without paying for it.
"""

from __future__ import annotations

from prefixes.lazy import lazy_exports

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


__getattr__ = lazy_exports(__name__, _EXPORTS)
