"""What a training run reports: per-step metrics (to its trackers), the result summary and peak memory; what it trains."""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from accelerate import Accelerator

from prefixes.tracking import end_tracking, log_best, start_tracking


@dataclass
class TrainResult:
    global_step: int
    train_loss: float
    best_step: int | None
    best_metrics: dict[str, float]
    wall_time_s: float
    peak_memory_mb: float
    stopped_early: bool
    history: dict[str, list[dict]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def peak_memory_mb() -> float:
    """Peak resident memory of this process (CPU) or peak allocated memory (CUDA)."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


class MetricsLog:
    """The run's metrics per logged step: kept for ``TrainResult.history`` and sent to the accelerator's
    trackers (``TrainingConfig.report_to``) as ``train/<name>`` and ``eval/<name>``.

    A resumed run starts with the rows its checkpoint recorded and sends them again, so a tracker's
    curves hold every step, not only those after the restart.
    """

    def __init__(self, accelerator: Accelerator, log_dir: Path | None, config: dict, history: dict | None = None):
        self.accelerator = accelerator
        self.history: dict[str, list[dict]] = history or {"train": [], "eval": []}
        start_tracking(accelerator, log_dir, config, project="prefixes")
        rows = [(kind, row) for kind in ("train", "eval") for row in self.history[kind]]
        for kind, row in sorted(rows, key=lambda item: (item[1]["step"], item[0] == "eval")):  # steps in order
            self._send(kind, row)

    def write(self, kind: str, row: dict) -> None:
        self.history[kind].append(row)
        self._send(kind, row)

    def _send(self, kind: str, row: dict) -> None:
        values = {f"{kind}/{name.removeprefix('eval_')}": value for name, value in row.items()
                  if name not in ("step", "elapsed_s")}  # wall time differs between identical runs
        self.accelerator.log(values, step=row["step"])

    def finish(self, best_metrics: dict[str, float], best_step: int | None, last_step: int) -> None:
        """Record the selected evaluation (``best/<name>``, and its step) and close the trackers."""
        if best_metrics:
            log_best(self.accelerator, {**best_metrics, "step": best_step or 0}, step=last_step)
        end_tracking(self.accelerator)


class TrainableModel(Protocol):
    """What the loop asks of the ``nn.Module`` it trains: an adapter wrapper or a baseline."""

    tokenizer: Any
    adapters: Mapping[str, Any]
    task_type: str
    base_model: Any

    def training_defaults(self) -> dict: ...

    def save_pretrained(self, directory: str | os.PathLike, /) -> Any: ...

    def gradient_checkpointing_enable(self) -> None: ...

    def train(self, mode: bool = True) -> Any: ...

    def parameters(self, recurse: bool = True) -> Iterator[torch.nn.Parameter]: ...

    def named_parameters(self) -> Iterator[tuple[str, torch.nn.Parameter]]: ...
