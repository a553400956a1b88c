"""One accelerate-backed training loop for every method (``Trainer``; ``PrefixTrainer``, ``PromptTrainer``).

The loop only asks the model which parameters train and for its method's default learning rate
and optimizer (``training_defaults()``); everything method-specific lives in the method's folder.
Launch with ``accelerate launch`` to scale out; the same code runs on a 2-core CPU.

Resumption is exact: a checkpoint records optimizer, scheduler, RNG and the position inside the
epoch, and the epoch order is a pure function of (seed, epoch), so 2 steps + resume + 2 steps
gives the same losses and parameters as 4 steps straight.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, cast

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import get_scheduler
from transformers.optimization import Adafactor

from prefixes.accelerator import make_accelerator
from prefixes.checkpoint import load_checkpoint, save_checkpoint
from prefixes.class_balance import training_class_weights, weighted_classification_loss
from prefixes.config import TrainingConfig, as_training_config
from prefixes.data import collate
from prefixes.data.raw import as_features
from prefixes.evaluate import evaluate_model
from prefixes.sampling import epoch_loader, example_lengths
from prefixes.task_heads import optimizer_groups
from prefixes.train_log import MetricsLog, TrainableModel, TrainResult, peak_memory_mb


@dataclass
class _Run:
    """The state of one ``Trainer.train`` call, shared by its steps."""

    model: torch.nn.Module  # as prepared by accelerate (possibly DDP-wrapped)
    optimizer: torch.optim.Optimizer
    scheduler: Any
    params: list[torch.nn.Parameter]
    eval_loader: DataLoader | None
    progress: dict
    log: MetricsLog
    bar: Any
    total_steps: int
    start: float
    best_state: dict[str, torch.Tensor] | None = None
    best_metrics: dict[str, float] = field(default_factory=dict)
    stopped_early: bool = False
    last_loss: float = float("nan")
    micro_losses: list[torch.Tensor] = field(default_factory=list)
    lengths: list[int] | None = None  # of the training examples, when batches group by length
    class_weights: torch.Tensor | None = None  # of the classification loss, when classes are balanced

    @property
    def done(self) -> bool:
        return self.progress["step"] >= self.total_steps or self.stopped_early


class Trainer:
    """Train whatever parameters of the model require grad: an adapter (and task head) over a
    frozen base, or a baseline. The model provides ``training_defaults()`` and ``save_pretrained``."""

    def __init__(
        self,
        model: TrainableModel,
        config: TrainingConfig | dict,
        *,
        best_dir: str | Path | None = None,
        checkpoint_dir: str | Path | None = None,
        log_dir: str | Path | None = None,
        final_checkpoint: bool = False,
        run_identity: dict | None = None,
        collate_fn=None,
        accelerator: Accelerator | None = None,
        max_length: int | None = None,
    ):
        """``best_dir``: the best evaluation's model is saved there at the end; ``checkpoint_dir``: resumable
        checkpoints (every ``config.checkpoint_every`` steps, and after the last step when ``final_checkpoint``),
        recording ``run_identity`` (what run they belong to, see ``prefixes.checkpoint.checkpoint_run``); ``log_dir``:
        where ``config.report_to``'s trackers write (DVCLive: ``log_dir/dvclive``; a given ``accelerator`` brings
        its own). Each is optional. ``config`` may be a dict of TrainingConfig fields; ``max_length`` cuts raw
        examples (see ``train``)."""
        self.model = model
        defaults = model.training_defaults()
        self.config = config = as_training_config(config)
        self.max_length = max_length
        self.learning_rate = config.learning_rate or defaults["learning_rate"]
        self.optimizer_name = config.optimizer or defaults["optimizer"]
        self.best_dir = Path(best_dir) if best_dir is not None else None
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.final_checkpoint = final_checkpoint and self.checkpoint_dir is not None
        self.run_identity = run_identity
        pad_id = model.tokenizer.pad_token_id if model.tokenizer is not None else 0
        self.collate_fn = collate_fn or partial(collate, pad_token_id=pad_id)
        self.accelerator = accelerator or make_accelerator(config, num_adapters=len(model.adapters), log_dir=self.log_dir)

    # ----- the loop ---------------------------------------------------------------------------
    def train(self, train_dataset, eval_dataset=None, *, resume_from: str | Path | None = None) -> TrainResult:
        """Train to ``max_steps`` (or ``num_epochs``), evaluating and checkpointing on schedule.

        The datasets hold features (dicts with input_ids) or raw examples (dicts or a
        ``datasets.Dataset`` of ``prefixes.data.Example`` fields), encoded by ``prefixes.data.raw``.
        """
        train_dataset = as_features(self.model, train_dataset, self.max_length)
        eval_dataset = as_features(self.model, eval_dataset, self.max_length)
        run = self._setup(train_dataset, eval_dataset, resume_from)
        while not run.done:
            self._run_epoch(run, train_dataset)
        run.bar.close()
        self._final_evaluation(run)
        return self._finish(run)

    def _run_epoch(self, run: _Run, dataset) -> None:
        # The order is a pure function of (seed, epoch): resuming needs no sampler state.
        loader = self.accelerator.prepare_data_loader(epoch_loader(
            dataset, batch_size=self.config.batch_size, seed=self.config.seed, epoch=run.progress["epoch"],
            collate_fn=self.collate_fn, lengths=run.lengths, processes=self.accelerator.num_processes))
        if run.progress["batches_done"]:
            loader = self.accelerator.skip_first_batches(loader, run.progress["batches_done"])
        for batch in loader:
            if not self._step(run, batch):
                continue  # accumulating gradients: no optimizer step yet
            self._log_step(run)
            if self.config.eval_every is not None and run.progress["step"] % self.config.eval_every == 0:
                self._evaluate(run)
            every = self.config.checkpoint_every
            if every and run.progress["step"] % every == 0 and self.checkpoint_dir is not None:
                self._checkpoint(run)
            if run.done:
                return
        run.progress["epoch"] += 1
        run.progress["batches_done"] = 0
        if self.config.eval_every is None:
            self._evaluate(run)

    def _step(self, run: _Run, batch: dict) -> bool:
        """Forward and backward one micro-batch; True when it completed an optimizer step."""
        accelerator = self.accelerator
        with accelerator.accumulate(run.model):
            outputs, weights = run.model(**batch), run.class_weights
            loss = outputs.loss if weights is None else weighted_classification_loss(outputs.logits, batch["labels"], weights)
            accelerator.backward(loss)
            if accelerator.sync_gradients and self.config.max_grad_norm is not None:
                accelerator.clip_grad_norm_(run.params, self.config.max_grad_norm)
            run.optimizer.step()
            run.optimizer.zero_grad()
        run.micro_losses.append(loss.detach())
        run.progress["batches_done"] += 1
        if not accelerator.sync_gradients:
            return False
        run.scheduler.step()
        run.progress["step"] += 1
        run.bar.update(1)
        run.last_loss = accelerator.gather(torch.stack(run.micro_losses).mean()[None]).mean().item()
        run.micro_losses = []
        run.progress["elapsed_s"] = time.perf_counter() - run.start
        return True

    def _log_step(self, run: _Run) -> None:
        step = run.progress["step"]
        if step % self.config.log_every == 0 or step == run.total_steps:
            run.log.write("train", {"step": step, "epoch": run.progress["epoch"], "loss": run.last_loss,
                                    "learning_rate": run.scheduler.get_last_lr()[0],
                                    "elapsed_s": round(run.progress["elapsed_s"], 3)})
            run.bar.set_postfix(loss=f"{run.last_loss:.4f}")

    def _evaluate(self, run: _Run, *, final: bool = False) -> None:
        """Evaluate; keep the weights when the metric improved (or, finally, when nothing was kept)."""
        if run.eval_loader is None:
            return
        model = self.model
        num_labels = model.base_model.config.num_labels if model.task_type == "text_classification" else None
        metrics = evaluate_model(run.model, run.eval_loader, self.accelerator, model.task_type, num_labels)
        run.log.write("eval", {"step": run.progress["step"], **metrics})
        improved = _record_eval(run.progress, metrics, self.config)
        patience = self.config.early_stopping_patience
        if not final:
            run.stopped_early = patience is not None and run.progress["evals_without_improvement"] >= patience
        if improved or (final and not run.best_metrics):
            run.best_state, run.best_metrics = self._trainable_state(), metrics

    def _final_evaluation(self, run: _Run) -> None:
        evaluated_last_step = bool(evals := run.log.history["eval"]) and evals[-1]["step"] == run.progress["step"]
        if not evaluated_last_step and not run.stopped_early:
            self._evaluate(run, final=True)

    def _finish(self, run: _Run) -> TrainResult:
        if self.final_checkpoint:  # resumable state of the last step, before the best weights return
            self._checkpoint(run)
        if run.best_state is not None:
            self._load_trainable_state(run.best_state)  # the best evaluation's weights, as the final model
        run.log.finish(run.best_metrics, run.progress["best_step"], run.progress["step"])
        result = TrainResult(
            global_step=run.progress["step"], train_loss=run.last_loss, best_step=run.progress["best_step"],
            best_metrics=run.best_metrics, wall_time_s=time.perf_counter() - run.start,
            peak_memory_mb=peak_memory_mb(), stopped_early=run.stopped_early, history=run.log.history,
        )
        if self.best_dir is not None and self.accelerator.is_main_process:
            self.model.save_pretrained(self.best_dir)
        self.accelerator.wait_for_everyone()
        return result

    # ----- setup ----------------------------------------------------------------------------
    def _setup(self, train_dataset, eval_dataset, resume_from) -> _Run:
        config, accelerator = self.config, self.accelerator
        if len(train_dataset) == 0:
            raise ValueError("train_dataset is empty: prepare at least one training example")
        class_weights = training_class_weights(config.class_weighting, train_dataset, self.model.task_type,
                                               self.model.base_model.config.num_labels)
        if resume_from is None:
            set_seed(config.seed)
        if config.gradient_checkpointing:
            self.model.gradient_checkpointing_enable()
        self.model.train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = self._optimizer(optimizer_groups(self.model, params, config.head_learning_rate))
        total_steps = config.max_steps or config.num_epochs * self._steps_per_epoch(train_dataset)
        scheduler = get_scheduler(config.lr_scheduler, optimizer, num_warmup_steps=round(config.warmup_ratio * total_steps),
                                  num_training_steps=total_steps)
        model, optimizer = accelerator.prepare(self.model, optimizer)
        eval_loader = None
        if eval_dataset is not None and len(eval_dataset) > 0:
            eval_loader = accelerator.prepare_data_loader(
                DataLoader(eval_dataset, batch_size=config.eval_batch_size, collate_fn=self.collate_fn)
            )
        progress: dict[str, Any] = {"epoch": 0, "batches_done": 0, "step": 0, "best_metric": None, "best_step": None,
                    "evals_without_improvement": 0, "elapsed_s": 0.0}
        best: tuple[dict[str, torch.Tensor] | None, dict[str, float]] = (None, {})
        last_loss, history = float("nan"), None
        if resume_from is not None:
            progress, best = load_checkpoint(Path(resume_from), self.model, optimizer, scheduler, accelerator,
                                             total_steps=total_steps)
            last_loss, history = progress.pop("last_loss"), progress.pop("history", None)
        log = MetricsLog(accelerator, self.log_dir, config.model_dump(mode="json"), history)
        # disable=None: a progress bar on a terminal only, not in a log file
        bar = tqdm(total=total_steps, initial=progress["step"], desc="train",
                   disable=None if accelerator.is_local_main_process else True)
        return _Run(model, optimizer, scheduler, params, eval_loader, progress, log, bar, total_steps,
                    start=time.perf_counter() - progress["elapsed_s"], best_state=best[0], best_metrics=best[1],
                    last_loss=last_loss, class_weights=class_weights,
                    lengths=example_lengths(train_dataset) if config.group_by_length else None)

    def _optimizer(self, params) -> torch.optim.Optimizer:
        if self.optimizer_name == "adafactor":
            # Fixed learning rate (no relative step), as prompt tuning's paper trains it.
            return Adafactor(params, lr=self.learning_rate, scale_parameter=False, relative_step=False,
                             warmup_init=False, weight_decay=self.config.weight_decay)
        return torch.optim.AdamW(params, lr=self.learning_rate, weight_decay=self.config.weight_decay)

    def _steps_per_epoch(self, dataset) -> int:
        per_process = math.ceil(len(dataset) / (self.config.batch_size * self.accelerator.num_processes))
        return math.ceil(per_process / self.config.gradient_accumulation_steps)

    # ----- state --------------------------------------------------------------------------------
    def _checkpoint(self, run: _Run) -> Path:
        progress = {**run.progress, "last_loss": run.last_loss, "history": run.log.history}
        # Only called with a checkpoint_dir (see the callers).
        return save_checkpoint(cast(Path, self.checkpoint_dir), self.model, run.optimizer, run.scheduler, progress,
                               self.accelerator, best=(run.best_state, run.best_metrics), run=self.run_identity)

    def _trainable_state(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().clone() for n, p in self.model.named_parameters() if p.requires_grad}

    def _load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        params = dict(self.model.named_parameters())
        with torch.no_grad():
            for name, value in state.items():
                params[name].copy_(value)


def _record_eval(progress: dict, metrics: dict, config: TrainingConfig) -> bool:
    """Update the best metric and the patience count in ``progress``; True when this evaluation improved."""
    name = config.metric_for_best
    if name not in metrics:
        raise ValueError(f"metric_for_best={name!r} is not among the evaluation metrics {sorted(metrics)}")
    value, best = metrics[name], progress["best_metric"]
    better = best is None or (value > best if config.greater_is_better else value < best)
    if better:
        progress.update(best_metric=value, best_step=progress["step"], evals_without_improvement=0)
    else:
        progress["evals_without_improvement"] += 1
    return better


class PrefixTrainer(Trainer):
    """The seed's name for training prefix tuning and P-tuning v2 models: the one ``Trainer`` loop."""


class PromptTrainer(Trainer):
    """The seed's name for training prompt tuning models: the one ``Trainer`` loop."""
