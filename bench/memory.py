"""Peak memory of one training side, measured alone in this fresh process.

    python -m bench.memory '{"workload": {...}, "side": "ours_prefix", "checkpointing": false, "steps": 2}'

Prints one JSON line: ``peak_rss_mib`` (the process's peak resident set, ``VmHWM``, which
includes the interpreter, torch and the model's weights), ``step_mib`` (how far the peak rose above the
resident set of the built model: activations, gradients, optimizer state) and ``saved_mib`` (the
distinct non-parameter tensors autograd keeps for one step's backward pass). Two steps run, so the
peak includes AdamW's state alongside a step's activations. The peak varies by tens of MiB between
identical runs (allocator state); ``saved_mib`` is exact, so it is what can tell a few MiB apart.

The peak is read from /proc/self/status rather than ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux
carries ru_maxrss across exec, so a child started by a process holding 8 GiB reports at least
8 GiB whatever it does; VmHWM belongs to the address space that exec creates fresh.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import psutil
import torch

from bench.common import setup
from bench.sides import train_step
from bench.workloads import Workload

MIB = 1024 * 1024


def peak_rss() -> int:
    """This address space's peak resident set in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # reported in kB
    raise RuntimeError("/proc/self/status has no VmHWM: peak memory needs Linux")


def saved_for_backward(step: Callable[[], object], model: torch.nn.Module) -> int:
    """Bytes of the distinct non-parameter storages autograd saves while ``step`` runs."""
    parameters = {tensor.untyped_storage().data_ptr() for tensor in model.parameters()}
    storages: dict[int, int] = {}

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        step()
    return sum(storages.values())


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
    peak = peak_rss()
    saved = saved_for_backward(step, model)  # after the peak is read, so the hook cannot move it
    return {"peak_rss_mib": peak / MIB, "step_mib": (peak - built) / MIB, "saved_mib": saved / MIB}


def main() -> None:
    setup()
    print(json.dumps(measure(json.loads(sys.argv[1]))))


if __name__ == "__main__":
    main()
