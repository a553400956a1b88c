"""Resumable training state without pickle: tensors in safetensors, everything else in JSON.

A checkpoint directory holds the model's training-form artifact (``save_pretrained(...,
training_state=True)``), the optimizer (tensors + JSON param groups), the scheduler (JSON), the
RNG states of this process, the best evaluation so far (weights and metrics), what run it belongs to
and the loop's position. ``torch.save`` / ``accelerator.save_state`` would write pickles, which this
project never loads.

A checkpoint is complete once ``progress.json`` exists (it is written last). A new one is built in
``.<name>.partial`` and swapped in by renames, so at every instant a complete checkpoint exists
under ``<name>`` or ``.<name>.partial``; ``find_checkpoint`` looks under both.

A checkpoint that cannot be read back (a truncated file, a hand-edited ``progress.json``) raises
``CheckpointError`` naming the file, never a traceback from deep inside torch or safetensors.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from prefixes.io import fsync_dir, swap_dir, write_atomic

OPTIMIZER_TENSORS = "optimizer.safetensors"
OPTIMIZER_JSON = "optimizer.json"
SCHEDULER_JSON = "scheduler.json"
PROGRESS_JSON = "progress.json"
MODEL_DIR = "model"
BEST_TENSORS = "best.safetensors"
BEST_JSON = "best.json"
RUN_JSON = "run.json"
# The loop's position: what `progress.json` must hold, with the types each value must have.
_PROGRESS_FIELDS: dict[str, tuple[type, ...]] = {
    "epoch": (int,), "batches_done": (int,), "step": (int,), "best_metric": (int, float, type(None)),
    "best_step": (int, type(None)), "evals_without_improvement": (int,), "elapsed_s": (int, float),
    "last_loss": (int, float),
}


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read back; ``path`` names it."""

    def __init__(self, path: Path, problem: str):
        super().__init__(f"damaged checkpoint file {path}: {' '.join(problem.split())}")
        self.path = path


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Whatever reading ``path`` (and applying what it holds) raises becomes a CheckpointError naming it."""
    try:
        yield
    except (OSError, ValueError, KeyError, IndexError, TypeError, RuntimeError, SafetensorError) as error:
        if isinstance(error, CheckpointError):
            raise
        raise CheckpointError(path, f"{type(error).__name__}: {error}") from error


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
    state: dict[int, dict] = {}
    with _reading(directory / OPTIMIZER_TENSORS):
        for key, value in load_file(str(directory / OPTIMIZER_TENSORS)).items():
            param_id, name = key.split(".", 1)
            state.setdefault(int(param_id), {})[name] = value
    with _reading(directory / OPTIMIZER_JSON):
        meta = json.loads((directory / OPTIMIZER_JSON).read_text())
        for key, value in meta["scalars"].items():
            param_id, name = key.split(".", 1)
            state.setdefault(int(param_id), {})[name] = value
        optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_scheduler(directory: Path, scheduler) -> None:
    # LambdaLR keeps its lambdas out of state_dict (None entries); the rest is plain numbers.
    (directory / SCHEDULER_JSON).write_text(json.dumps(scheduler.state_dict()))


def load_scheduler(directory: Path, scheduler) -> None:
    with _reading(directory / SCHEDULER_JSON):
        scheduler.load_state_dict(json.loads((directory / SCHEDULER_JSON).read_text()))


def save_rng(directory: Path, process_index: int) -> None:
    tensors = {"torch": torch.get_rng_state()}
    python_version, python_state, gauss = random.getstate()
    # The legacy (tuple) form, numpy's default; its stubs type the default as the dict form.
    numpy_state = cast(tuple[Any, ...], np.random.get_state())
    meta = {
        "python": [python_version, list(python_state), gauss],
        "numpy": [numpy_state[0], numpy_state[1].tolist(), *numpy_state[2:]],
    }
    save_file(tensors, str(directory / f"rng_{process_index}.safetensors"))
    (directory / f"rng_{process_index}.json").write_text(json.dumps(meta))


def load_rng(directory: Path, process_index: int) -> None:
    with _reading(directory / f"rng_{process_index}.safetensors"):
        torch.set_rng_state(load_file(str(directory / f"rng_{process_index}.safetensors"))["torch"])
    with _reading(directory / f"rng_{process_index}.json"):
        meta = json.loads((directory / f"rng_{process_index}.json").read_text())
        version, state, gauss = meta["python"]
        random.setstate((version, tuple(state), gauss))
        name, keys, *rest = meta["numpy"]
        np.random.set_state((name, np.array(keys, dtype=np.uint32), *rest))


def save_progress(directory: Path, progress: dict) -> None:
    write_atomic(directory / PROGRESS_JSON, json.dumps(progress, indent=2, sort_keys=True).encode())


def load_progress(directory: Path, total_steps: int | None = None) -> dict:
    """The loop's position; CheckpointError when it is not one (of a run of ``total_steps`` steps, when given)."""
    path = directory / PROGRESS_JSON
    with _reading(path):
        progress = json.loads(path.read_text())
    if not isinstance(progress, dict):
        raise CheckpointError(path, f"holds {progress!r:.40}, not the loop's position (a JSON object)")
    for key, kinds in _PROGRESS_FIELDS.items():
        value = progress.get(key)
        if key not in progress or not isinstance(value, kinds) or isinstance(value, bool):
            raise CheckpointError(path, f"{key} is {value!r:.40}; expected {' or '.join(k.__name__ for k in kinds)}")
    if min(progress["step"], progress["epoch"], progress["batches_done"]) < 0:
        raise CheckpointError(path, f"step, epoch and batches_done must not be negative: {progress!r:.80}")
    if total_steps is not None and progress["step"] > total_steps:
        raise CheckpointError(path, f"step {progress['step']} is beyond this run's {total_steps} steps")
    return progress


def save_best(directory: Path, state: dict[str, torch.Tensor] | None, metrics: dict[str, float]) -> None:
    """The best evaluation's trainable weights (when one was kept) and its metrics."""
    if state is not None:
        save_file({name: value.detach().cpu().contiguous() for name, value in state.items()}, str(directory / BEST_TENSORS))
    (directory / BEST_JSON).write_text(json.dumps(metrics))


def load_best(directory: Path) -> tuple[dict[str, torch.Tensor] | None, dict[str, float]]:
    state = None
    if (directory / BEST_TENSORS).exists():
        with _reading(directory / BEST_TENSORS):
            state = load_file(str(directory / BEST_TENSORS))
    with _reading(directory / BEST_JSON):
        metrics = json.loads((directory / BEST_JSON).read_text())
    if not isinstance(metrics, dict):
        raise CheckpointError(directory / BEST_JSON, f"holds {metrics!r:.40}, not the best evaluation's metrics")
    return state, metrics


def find_checkpoint(target: Path) -> Path | None:
    """The complete checkpoint saved to ``target``: there, or still under its staging name; None when neither is."""
    for candidate in (target, _staging(target)):
        if (candidate / PROGRESS_JSON).is_file():
            return candidate
    return None


def checkpoint_run(directory: Path) -> dict | None:
    """What run a complete checkpoint belongs to, as given to ``save_checkpoint(run=...)``."""
    path = directory / RUN_JSON
    if not path.is_file():
        return None
    with _reading(path):
        run = json.loads(path.read_text())
    if not isinstance(run, dict):
        raise CheckpointError(path, f"holds {run!r:.40}, not the run's identity (a JSON object)")
    return run


def save_checkpoint(target: Path, model, optimizer, scheduler, progress: dict, accelerator, *,
                    best: tuple[dict[str, torch.Tensor] | None, dict[str, float]] = (None, {}),
                    run: dict | None = None) -> Path:
    """Write a resumable checkpoint to ``target``; a previous one there is replaced by renames.

    Every process writes its own RNG state; the main process writes the rest, ``progress.json`` last.
    """
    staging, old = _staging(target), target.parent / f".{target.name}.old"
    if accelerator.is_main_process:
        if not target.exists() and find_checkpoint(target) == staging:
            staging.rename(target)  # a kill interrupted the last swap: finish it before reusing the name
        shutil.rmtree(old, ignore_errors=True)  # never the only complete one: see swap_dir
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        model.save_pretrained(staging / MODEL_DIR, training_state=True)
        save_optimizer(staging, _unwrapped(optimizer))
        save_scheduler(staging, scheduler)
        save_best(staging, *best)
        if run is not None:
            (staging / RUN_JSON).write_text(json.dumps(run, indent=2, sort_keys=True))
    accelerator.wait_for_everyone()
    save_rng(staging, accelerator.process_index)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        _fsync_files(staging)
        save_progress(staging, progress)
        swap_dir(staging, target, old)
    accelerator.wait_for_everyone()
    return target


def load_checkpoint(target: Path, model, optimizer, scheduler, accelerator, *, total_steps: int | None = None):
    """Restore model, optimizer, scheduler and this process's RNG from the checkpoint saved to
    ``target``; return the loop's progress and the best evaluation so far (weights, metrics).

    CheckpointError names the first file that cannot be read back, or a ``progress.json`` beyond
    ``total_steps`` (the resuming run's length); the small files are read first, before any state changes.
    """
    directory = find_checkpoint(target)
    if directory is None:
        raise FileNotFoundError(f"no complete checkpoint at {target} (nor at {_staging(target)}): "
                                "train without resume_from to start fresh")
    if not (directory / BEST_JSON).is_file():
        raise CheckpointError(directory / BEST_JSON, "missing (an older checkpoint format)")
    progress, best = load_progress(directory, total_steps), load_best(directory)
    with _reading(directory / MODEL_DIR):
        model.load_training_state(directory / MODEL_DIR)
    load_optimizer(directory, _unwrapped(optimizer))
    load_scheduler(directory, scheduler)
    load_rng(directory, accelerator.process_index)
    return progress, best


def remove_checkpoint(target: Path) -> None:
    """Delete the checkpoint saved to ``target``, under each of its names, so training starts fresh."""
    for path in (target, _staging(target), target.parent / f".{target.name}.old"):
        shutil.rmtree(path, ignore_errors=True)


def _staging(target: Path) -> Path:
    return target.parent / f".{target.name}.partial"


def _fsync_files(directory: Path) -> None:
    """Persist every file under ``directory`` and the folder's entries."""
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    fsync_dir(directory)


def _unwrapped(optimizer) -> torch.optim.Optimizer:
    # accelerate wraps the optimizer; its state lives in the wrapped one.
    return optimizer.optimizer if hasattr(optimizer, "optimizer") else optimizer
