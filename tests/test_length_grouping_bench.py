"""Smoke test of the length-grouping benchmark on a tiny model: its records and their numbers."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from conftest import tiny_model

from prefixes import PrefixConfig, PrefixTuningModel

# bench/ is a folder of scripts beside the package, not installed: import it from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import RECORD_KEYS  # noqa: E402
from bench.length_grouping import grouping_records, padding_share  # noqa: E402


def _rows(count: int) -> list[dict]:
    lengths = torch.randint(2, 30, (count,), generator=torch.Generator().manual_seed(0)).tolist()
    return [{"input_ids": [5 + index % 80] * length, "attention_mask": [1] * length, "labels": index % 3}
            for index, length in enumerate(lengths)]


def test_padding_share_counts_pad_tokens_of_the_epoch_order():
    rows = [{"input_ids": [4] * length} for length in (1, 3, 1, 3)]
    assert padding_share(rows, True, batch_size=2) == 0.0  # pairs of equal length: nothing to pad
    # Seed 0's shuffle pairs each 1 with a 3: 2 pad tokens in each batch of 6.
    assert padding_share(rows, False, batch_size=2) == 4 / 12


def test_records_compare_grouped_with_shuffled_epochs():
    torch.manual_seed(0)
    models = {side: PrefixTuningModel.from_model(tiny_model("bert"), PrefixConfig(prefix_length=2, reparameterization=False))
              for side in ("grouped", "shuffled")}
    records = grouping_records(models, _rows(48), _rows(16), 0, warmup=0, repeats=1, prefix="tiny")
    assert [r["name"] for r in records] == [f"tiny.{name}" for name in (
        "padding_share", "epoch_time", "real_tokens_per_s", "eval_loss", "eval_accuracy")]
    assert all(tuple(r) == RECORD_KEYS for r in records)
    padding = records[0]
    assert padding["ours"] < padding["reference"] / 2
