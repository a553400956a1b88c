"""Peak memory of one training side, measured alone in this fresh process.

    python -m bench.memory '{"workload": {...}, "side": "ours_prefix", "checkpointing": false, "steps": 2}'

Prints one JSON line: ``peak_rss_mib`` (the process's peak resident set, which includes the
interpreter, torch and the model's weights) and ``step_mib`` (how far the peak rose above the
resident set of the built model: activations, gradients, optimizer state). Two steps run, so the
peak includes AdamW's state alongside a step's activations.
"""

from __future__ import annotations

import json
import resource
import sys

import psutil
import torch

from bench.common import setup
from bench.sides import train_step
from bench.workloads import Workload

MIB = 1024 * 1024


def measure(spec: dict) -> dict:
    workload = Workload(**spec["workload"])
    step, model = train_step(spec["side"], workload, checkpointing=spec.get("checkpointing", False), with_model=True)
    with torch.no_grad():
        # Loaded weights may be memory-mapped and not yet resident; touch them so the baseline counts them.
        for tensor in [*model.parameters(), *model.buffers()]:
            tensor.sum()
    built = psutil.Process().memory_info().rss
    for _ in range(spec.get("steps", 2)):
        step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    return {"peak_rss_mib": peak / MIB, "step_mib": (peak - built) / MIB}


def main() -> None:
    setup()
    print(json.dumps(measure(json.loads(sys.argv[1]))))


if __name__ == "__main__":
    main()
