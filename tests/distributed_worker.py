"""Train and evaluate a tiny model; run under `accelerate launch` by test_distributed.py.

usage: python distributed_worker.py OUTPUT_JSON PER_PROCESS_BATCH [grouped]

With ``grouped`` the rows have different lengths and training batches group them by length.
"""

import json
import sys

import torch
from accelerate import Accelerator
from conftest import tiny_model

from prefixes import PrefixConfig, PrefixTuningModel
from prefixes.config import TrainingConfig
from prefixes.train import PrefixTrainer


def lm_rows(count: int, seed: int, varied: bool = False) -> list[dict]:
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(count):
        length = int(torch.randint(4, 11, (1,), generator=generator)) if varied else 10
        ids = torch.randint(4, 90, (length,), generator=generator).tolist()
        # Varied rows score only their last 3 tokens: every process's batch then holds as many
        # scored tokens, so the mean of the processes' losses is the loss of the whole batch.
        labels = [-100] * (length - 3) + ids[-3:] if varied else ids
        rows.append({"input_ids": ids, "attention_mask": [1] * length, "labels": labels})
    return rows


def main(output: str, batch_size: int, grouped: bool = False) -> None:
    torch.manual_seed(0)
    model = PrefixTuningModel.from_model(tiny_model("llama"), PrefixConfig(prefix_length=3, prefix_dropout=0.0))
    config = TrainingConfig(batch_size=batch_size, eval_batch_size=3, max_steps=3, learning_rate=1e-2, seed=5, log_every=1,
                            group_by_length=grouped)
    trainer = PrefixTrainer(model, config, accelerator=Accelerator())
    # 13 evaluation rows: uneven across processes, so duplicated padding rows must be dropped.
    result = trainer.train(lm_rows(24, seed=1, varied=grouped), lm_rows(13, seed=2))
    if trainer.accelerator.is_main_process:
        with open(output, "w") as handle:
            json.dump({"eval": result.history["eval"], "train": result.history["train"],
                       "processes": trainer.accelerator.num_processes}, handle)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), grouped=sys.argv[3:] == ["grouped"])
