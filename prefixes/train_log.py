"""What a training run reports: per-step metric logs, the result summary and peak memory; what it trains."""

from __future__ import annotations

import json
import os
import resource
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import torch


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
    """Per-step metrics as JSON lines (for tailing) and as JSON arrays (what ``dvc plots`` reads)."""

    def __init__(self, directory: Path | None, resume_step: int, enabled: bool):
        self.directory = directory if enabled else None
        self.history: dict[str, list[dict]] = {"train": [], "eval": []}
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        for kind in self.history:
            path = self.directory / f"{kind}_log.jsonl"
            if path.exists():  # keep what a resumed run already logged, drop anything after the checkpoint
                rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
                self.history[kind] = [row for row in rows if row["step"] <= resume_step]
            self._flush(kind)

    def write(self, kind: str, row: dict) -> None:
        self.history[kind].append(row)
        if self.directory is not None:
            self._flush(kind)

    def _flush(self, kind: str) -> None:
        rows = self.history[kind]
        directory = cast(Path, self.directory)
        (directory / f"{kind}_log.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
        (directory / f"{kind}_log.json").write_text(json.dumps(rows, indent=1))


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
