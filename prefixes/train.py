"""One accelerate-backed training loop for every method (``PrefixTrainer`` and ``PromptTrainer``).

The loop only asks the model which parameters train; everything method-specific (what the
parameters are, their paper-derived default hyperparameters) lives in the method's module.
Launch with ``accelerate launch`` to scale out; the same code runs on a 2-core CPU.

Resumption is exact: a checkpoint records optimizer, scheduler, RNG and the position inside the
epoch, and the epoch order is a pure function of (seed, epoch), so 2 steps + resume + 2 steps
gives the same losses and parameters as 4 steps straight.
"""

from __future__ import annotations

import json
import math
import resource
import shutil
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, set_seed
from torch.utils.data import DataLoader, Subset
from tqdm.auto import tqdm
from transformers import get_scheduler
from transformers.optimization import Adafactor

from prefixes import checkpoint
from prefixes.config import TrainingConfig
from prefixes.data import collate
from prefixes.evaluate import evaluate_model
from prefixes.prefix_model import PrefixTuningModel
from prefixes.prompt_model import PromptTuningModel

CHECKPOINT_DIR = "checkpoint"
BEST_DIR = "best"


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


class Trainer:
    """Train whatever parameters of the model require grad: an adapter (and task head) over a
    frozen base, or a baseline. The model provides ``training_defaults()``, ``save_pretrained``."""

    model_class: type[torch.nn.Module] = torch.nn.Module

    def __init__(
        self,
        model: torch.nn.Module,
        config: TrainingConfig,
        *,
        output_dir: str | Path | None = None,
        collate_fn=None,
        accelerator: Accelerator | None = None,
        final_checkpoint: bool = False,
    ):
        if not isinstance(model, self.model_class):
            raise TypeError(f"{type(self).__name__} trains a {self.model_class.__name__}, got {type(model).__name__}")
        self.model = model
        defaults = model.training_defaults()
        self.config = config
        self.learning_rate = config.learning_rate or defaults["learning_rate"]
        self.optimizer_name = config.optimizer or defaults["optimizer"]
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.final_checkpoint = final_checkpoint and self.output_dir is not None
        pad_id = model.tokenizer.pad_token_id if model.tokenizer is not None else 0
        self.collate_fn = collate_fn or partial(collate, pad_token_id=pad_id)
        self.accelerator = accelerator or Accelerator(
            mixed_precision=config.mixed_precision,
            gradient_accumulation_steps=config.gradient_accumulation_steps,
            # With several adapters in the bank, a batch may leave some of them unused.
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=len(model.adapters) > 1)],
        )

    # ----- setup ----------------------------------------------------------------------------
    def _optimizer(self, params) -> torch.optim.Optimizer:
        if self.optimizer_name == "adafactor":
            # Fixed learning rate (no relative step), as prompt tuning's paper trains it.
            return Adafactor(params, lr=self.learning_rate, scale_parameter=False, relative_step=False,
                             warmup_init=False, weight_decay=self.config.weight_decay)
        return torch.optim.AdamW(params, lr=self.learning_rate, weight_decay=self.config.weight_decay)

    def _epoch_loader(self, dataset, epoch: int) -> DataLoader:
        # The order is a pure function of (seed, epoch): resuming needs no sampler state.
        generator = torch.Generator().manual_seed(self.config.seed + epoch)
        order = torch.randperm(len(dataset), generator=generator)
        # Its own generator keeps the loader from drawing its base seed from the global RNG,
        # which would shift dropout masks after a resume restarts the epoch's iterator.
        loader = DataLoader(Subset(dataset, order.tolist()), batch_size=self.config.batch_size,
                            collate_fn=self.collate_fn, generator=generator)
        return self.accelerator.prepare_data_loader(loader)

    def _steps_per_epoch(self, dataset) -> int:
        per_process = math.ceil(len(dataset) / (self.config.batch_size * self.accelerator.num_processes))
        return math.ceil(per_process / self.config.gradient_accumulation_steps)

    # ----- the loop ---------------------------------------------------------------------------
    def train(self, train_dataset, eval_dataset=None, *, resume_from: str | Path | None = None) -> TrainResult:
        config, accelerator = self.config, self.accelerator
        if len(train_dataset) == 0:
            raise ValueError("train_dataset is empty: prepare at least one training example")
        if resume_from is None:
            set_seed(config.seed)
        if config.gradient_checkpointing:
            self.model.gradient_checkpointing_enable()
        self.model.train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = self._optimizer(params)
        total_steps = config.max_steps or config.num_epochs * self._steps_per_epoch(train_dataset)
        scheduler = get_scheduler(config.lr_scheduler, optimizer, num_warmup_steps=round(config.warmup_ratio * total_steps),
                                  num_training_steps=total_steps)
        model, optimizer = accelerator.prepare(self.model, optimizer)
        eval_loader = None
        if eval_dataset is not None and len(eval_dataset) > 0:
            eval_loader = accelerator.prepare_data_loader(
                DataLoader(eval_dataset, batch_size=config.eval_batch_size, collate_fn=self.collate_fn)
            )

        progress = {"epoch": 0, "batches_done": 0, "step": 0, "best_metric": None, "best_step": None,
                    "evals_without_improvement": 0, "elapsed_s": 0.0}
        if resume_from is not None:
            progress = self._resume(Path(resume_from), optimizer, scheduler)
        log = _MetricsLog(self.output_dir, progress["step"], accelerator.is_main_process)
        best_state, best_metrics = None, {}
        stopped_early, last_loss = False, float("nan")
        start = time.perf_counter() - progress["elapsed_s"]
        bar = tqdm(total=total_steps, initial=progress["step"], desc="train", disable=not accelerator.is_local_main_process)
        micro_losses: list[torch.Tensor] = []
        while progress["step"] < total_steps and not stopped_early:
            loader = self._epoch_loader(train_dataset, progress["epoch"])
            if progress["batches_done"]:
                loader = accelerator.skip_first_batches(loader, progress["batches_done"])
            for batch in loader:
                with accelerator.accumulate(model):
                    loss = model(**batch).loss
                    accelerator.backward(loss)
                    if accelerator.sync_gradients and config.max_grad_norm is not None:
                        accelerator.clip_grad_norm_(params, config.max_grad_norm)
                    optimizer.step()
                    optimizer.zero_grad()
                micro_losses.append(loss.detach())
                progress["batches_done"] += 1
                if not accelerator.sync_gradients:
                    continue
                scheduler.step()
                progress["step"] += 1
                bar.update(1)
                last_loss = accelerator.gather(torch.stack(micro_losses).mean()[None]).mean().item()
                micro_losses = []
                progress["elapsed_s"] = time.perf_counter() - start
                if progress["step"] % config.log_every == 0 or progress["step"] == total_steps:
                    log.write("train", {"step": progress["step"], "epoch": progress["epoch"], "loss": last_loss,
                                        "learning_rate": scheduler.get_last_lr()[0], "elapsed_s": round(progress["elapsed_s"], 3)})
                    bar.set_postfix(loss=f"{last_loss:.4f}")
                due_eval = config.eval_every is not None and progress["step"] % config.eval_every == 0
                if eval_loader is not None and due_eval:
                    improved, stopped_early, metrics = self._evaluate(model, eval_loader, progress, log)
                    if improved:
                        best_state, best_metrics = self._trainable_state(), metrics
                if config.checkpoint_every and progress["step"] % config.checkpoint_every == 0 and self.output_dir:
                    self.save_checkpoint(optimizer, scheduler, progress)
                if progress["step"] >= total_steps or stopped_early:
                    break
            else:  # the epoch ran out
                progress["epoch"] += 1
                progress["batches_done"] = 0
                if eval_loader is not None and config.eval_every is None:
                    improved, stopped_early, metrics = self._evaluate(model, eval_loader, progress, log)
                    if improved:
                        best_state, best_metrics = self._trainable_state(), metrics
        bar.close()
        evaluated_last_step = bool(log.history["eval"]) and log.history["eval"][-1]["step"] == progress["step"]
        if eval_loader is not None and not evaluated_last_step and not stopped_early:
            improved, _, metrics = self._evaluate(model, eval_loader, progress, log)
            if improved or not best_metrics:
                best_state, best_metrics = self._trainable_state(), metrics
        if self.final_checkpoint:  # resumable state of the last step, before the best weights return
            self.save_checkpoint(optimizer, scheduler, progress)
        if best_state is not None:
            self._load_trainable_state(best_state)  # the best evaluation's weights, as the final model
        result = TrainResult(
            global_step=progress["step"], train_loss=last_loss, best_step=progress["best_step"], best_metrics=best_metrics,
            wall_time_s=time.perf_counter() - start, peak_memory_mb=peak_memory_mb(), stopped_early=stopped_early,
            history=log.history,
        )
        if self.output_dir is not None and accelerator.is_main_process:
            self.model.save_pretrained(self.output_dir / BEST_DIR)
        accelerator.wait_for_everyone()
        return result

    def _evaluate(self, model, loader, progress: dict, log: _MetricsLog) -> tuple[bool, bool, dict]:
        num_labels = self.model.base_model.config.num_labels if self.model.task_type == "text_classification" else None
        metrics = evaluate_model(model, loader, self.accelerator, self.model.task_type, num_labels)
        log.write("eval", {"step": progress["step"], **metrics})
        name = self.config.metric_for_best
        if name not in metrics:
            raise ValueError(f"metric_for_best={name!r} is not among the evaluation metrics {sorted(metrics)}")
        value, best = metrics[name], progress["best_metric"]
        better = best is None or (value > best if self.config.greater_is_better else value < best)
        if better:
            progress.update(best_metric=value, best_step=progress["step"], evals_without_improvement=0)
        else:
            progress["evals_without_improvement"] += 1
        patience = self.config.early_stopping_patience
        return better, patience is not None and progress["evals_without_improvement"] >= patience, metrics

    # ----- state --------------------------------------------------------------------------------
    def _trainable_state(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().clone() for n, p in self.model.named_parameters() if p.requires_grad}

    def _load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        params = dict(self.model.named_parameters())
        with torch.no_grad():
            for name, value in state.items():
                params[name].copy_(value)

    def save_checkpoint(self, optimizer, scheduler, progress: dict) -> Path:
        """Write a resumable checkpoint to ``output_dir/checkpoint`` (replaced atomically)."""
        accelerator = self.accelerator
        target = self.output_dir / CHECKPOINT_DIR
        staging = self.output_dir / f".{CHECKPOINT_DIR}.partial"
        if accelerator.is_main_process:
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            self.model.save_pretrained(staging / "model", training_state=True)
            checkpoint.save_optimizer(staging, optimizer.optimizer if hasattr(optimizer, "optimizer") else optimizer)
            checkpoint.save_scheduler(staging, scheduler)
            checkpoint.save_progress(staging, progress)
        accelerator.wait_for_everyone()
        checkpoint.save_rng(staging, accelerator.process_index)
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        accelerator.wait_for_everyone()
        return target

    def _resume(self, directory: Path, optimizer, scheduler) -> dict:
        self.model.load_training_state(directory / "model")
        checkpoint.load_optimizer(directory, optimizer.optimizer if hasattr(optimizer, "optimizer") else optimizer)
        checkpoint.load_scheduler(directory, scheduler)
        checkpoint.load_rng(directory, self.accelerator.process_index)
        return checkpoint.load_progress(directory)


class _MetricsLog:
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
        (self.directory / f"{kind}_log.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
        (self.directory / f"{kind}_log.json").write_text(json.dumps(rows, indent=1))



class PrefixTrainer(Trainer):
    """Trains prefix tuning and P-tuning v2 models."""

    model_class = PrefixTuningModel


class PromptTrainer(Trainer):
    """Trains prompt tuning models."""

    model_class = PromptTuningModel
