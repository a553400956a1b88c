"""Train and evaluate a tiny model; run under `accelerate launch` by test_distributed.py.

usage: python distributed_worker.py OUTPUT_JSON PER_PROCESS_BATCH
"""

import json
import sys

import torch
from conftest import tiny_model

from accelerate import Accelerator
from prefixes import PrefixConfig, PrefixTuningModel
from prefixes.config import TrainingConfig
from prefixes.train import PrefixTrainer


def lm_rows(count: int, seed: int) -> list[dict]:
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(count):
        ids = torch.randint(4, 90, (10,), generator=generator).tolist()
        rows.append({"input_ids": ids, "attention_mask": [1] * 10, "labels": ids})
    return rows


def main(output: str, batch_size: int) -> None:
    torch.manual_seed(0)
    model = PrefixTuningModel.from_model(tiny_model("llama"), PrefixConfig(prefix_length=3, prefix_dropout=0.0))
    config = TrainingConfig(batch_size=batch_size, eval_batch_size=3, max_steps=3, learning_rate=1e-2, seed=5, log_every=1)
    trainer = PrefixTrainer(model, config, accelerator=Accelerator())
    # 13 evaluation rows: uneven across processes, so duplicated padding rows must be dropped.
    result = trainer.train(lm_rows(24, seed=1), lm_rows(13, seed=2))
    if trainer.accelerator.is_main_process:
        with open(output, "w") as handle:
            json.dump({"eval": result.history["eval"], "train": result.history["train"],
                       "processes": trainer.accelerator.num_processes}, handle)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
