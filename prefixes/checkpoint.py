"""Resumable training state without pickle: tensors in safetensors, everything else in JSON.

A checkpoint directory holds the model's training-form artifact (``save_pretrained(...,
training_state=True)``), the optimizer (tensors + JSON param groups), the scheduler (JSON), the
RNG states of this process and the loop's position. ``torch.save`` / ``accelerator.save_state``
would write pickles, which this project never loads.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

OPTIMIZER_TENSORS = "optimizer.safetensors"
OPTIMIZER_JSON = "optimizer.json"
SCHEDULER_JSON = "scheduler.json"
PROGRESS_JSON = "progress.json"
MODEL_DIR = "model"


def save_optimizer(directory: Path, optimizer: torch.optim.Optimizer) -> None:
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for param_id, values in state["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{param_id}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{param_id}.{name}"] = value
    save_file(tensors, str(directory / OPTIMIZER_TENSORS))
    (directory / OPTIMIZER_JSON).write_text(json.dumps({"param_groups": state["param_groups"], "scalars": scalars}))


def load_optimizer(directory: Path, optimizer: torch.optim.Optimizer) -> None:
    meta = json.loads((directory / OPTIMIZER_JSON).read_text())
    state: dict[int, dict] = {}
    for key, value in load_file(str(directory / OPTIMIZER_TENSORS)).items():
        param_id, name = key.split(".", 1)
        state.setdefault(int(param_id), {})[name] = value
    for key, value in meta["scalars"].items():
        param_id, name = key.split(".", 1)
        state.setdefault(int(param_id), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_scheduler(directory: Path, scheduler) -> None:
    # LambdaLR keeps its lambdas out of state_dict (None entries); the rest is plain numbers.
    (directory / SCHEDULER_JSON).write_text(json.dumps(scheduler.state_dict()))


def load_scheduler(directory: Path, scheduler) -> None:
    scheduler.load_state_dict(json.loads((directory / SCHEDULER_JSON).read_text()))


def save_rng(directory: Path, process_index: int) -> None:
    tensors = {"torch": torch.get_rng_state()}
    python_version, python_state, gauss = random.getstate()
    numpy_state = np.random.get_state()
    meta = {
        "python": [python_version, list(python_state), gauss],
        "numpy": [numpy_state[0], numpy_state[1].tolist(), *numpy_state[2:]],
    }
    save_file(tensors, str(directory / f"rng_{process_index}.safetensors"))
    (directory / f"rng_{process_index}.json").write_text(json.dumps(meta))


def load_rng(directory: Path, process_index: int) -> None:
    torch.set_rng_state(load_file(str(directory / f"rng_{process_index}.safetensors"))["torch"])
    meta = json.loads((directory / f"rng_{process_index}.json").read_text())
    version, state, gauss = meta["python"]
    random.setstate((version, tuple(state), gauss))
    name, keys, *rest = meta["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), *rest))


def save_progress(directory: Path, progress: dict) -> None:
    (directory / PROGRESS_JSON).write_text(json.dumps(progress, indent=2, sort_keys=True))


def load_progress(directory: Path) -> dict:
    return json.loads((directory / PROGRESS_JSON).read_text())


def save_checkpoint(target: Path, model, optimizer, scheduler, progress: dict, accelerator) -> Path:
    """Write a resumable checkpoint to ``target``; a previous one there is replaced atomically.

    Every process writes its own RNG state; the main process writes the rest.
    """
    staging = target.parent / f".{target.name}.partial"
    if accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        model.save_pretrained(staging / MODEL_DIR, training_state=True)
        save_optimizer(staging, _unwrapped(optimizer))
        save_scheduler(staging, scheduler)
        save_progress(staging, progress)
    accelerator.wait_for_everyone()
    save_rng(staging, accelerator.process_index)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    accelerator.wait_for_everyone()
    return target


def load_checkpoint(directory: Path, model, optimizer, scheduler, accelerator) -> dict:
    """Restore model, optimizer, scheduler and this process's RNG; return the loop's progress."""
    model.load_training_state(directory / MODEL_DIR)
    load_optimizer(directory, _unwrapped(optimizer))
    load_scheduler(directory, scheduler)
    load_rng(directory, accelerator.process_index)
    return load_progress(directory)


def _unwrapped(optimizer) -> torch.optim.Optimizer:
    # accelerate wraps the optimizer; its state lives in the wrapped one.
    return optimizer.optimizer if hasattr(optimizer, "optimizer") else optimizer
