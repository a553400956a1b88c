"""The evaluate stage's metrics cover every test example, also in a process that just trained."""

from __future__ import annotations

import torch
from conftest import tiny_model

from pipeline.evaluate import split_metrics
from prefixes import PrefixConfig, PrefixTuningModel
from prefixes.config import TrainingConfig
from prefixes.train import PrefixTrainer


def _rows(count: int) -> list[dict]:
    generator = torch.Generator().manual_seed(count)
    return [{"input_ids": torch.randint(10, 90, (6,), generator=generator).tolist(), "attention_mask": [1] * 6,
             "labels": index % 3} for index in range(count)]


def test_metrics_after_training_cover_every_example_when_sizes_do_not_divide_by_the_batch():
    torch.manual_seed(0)
    model = PrefixTuningModel.from_model(tiny_model("bert"), PrefixConfig(prefix_length=4, reparameterization=False))
    # 10 training rows in batches of 4 leave a remainder of 2: accelerate remembers it.
    PrefixTrainer(model, TrainingConfig(batch_size=4, eval_batch_size=4, num_epochs=1, seed=1)).train(_rows(10))

    results = split_metrics(model, _rows(13), ["a", "b", "c"], "text_classification", pad_id=0, batch_size=4)

    assert results["examples"] == 13
