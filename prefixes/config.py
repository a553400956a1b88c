"""Validated configuration of the base model and of a training run.

Every model here is strict (`extra="forbid"`): a typo'd key is an error that names the key, never a
silently ignored setting. Defaults live here and nowhere else; each method's own config lives in
its folder under `prefixes.methods`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from prefixes.strict import StrictModel
from prefixes.tracking import TrackerName, trackers

TaskType = Literal[
    "text_generation",
    "text_classification",
    "seq2seq_generation",
    "question_answering",
    "multiple_choice",
]

EMBEDDED_MODELS: tuple[str, ...] = ("minilm", "smollm2")
"""Short names of the base models shipped in PyPI wheels (see prefixes.base_models): loadable offline."""

# Task types whose model ends in a freshly initialised head that has to train with the prefix.
HEAD_TASK_TYPES: frozenset[str] = frozenset(
    {"text_classification", "question_answering", "multiple_choice"}
)


class ModelConfig(StrictModel):
    """Which frozen base model to adapt, and for which kind of task."""

    model_name_or_path: str = Field(
        description="Hub id, local folder, or an embedded short name: 'minilm' or 'smollm2'."
    )
    task_type: TaskType = Field(description="Decides which transformers head class is loaded.")
    num_labels: int | None = Field(
        default=None, ge=1, description="Number of classes; required for classification tasks."
    )
    label_names: list[str] | None = Field(
        default=None, description="Class names, in label-id order: the model's id2label, kept in artifacts."
    )
    revision: str | None = Field(default=None, description="Hub revision (branch, tag or commit).")
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        default="float32", description="Dtype the base model's weights are loaded in."
    )

    @model_validator(mode="after")
    def _labels_match_task(self) -> ModelConfig:
        needs_labels = self.task_type == "text_classification"
        if needs_labels and self.num_labels is None:
            raise ValueError(
                f"num_labels is required when task_type is {self.task_type!r}: "
                "set num_labels to the number of classes"
            )
        if not needs_labels and self.num_labels is not None:
            raise ValueError(
                f"num_labels={self.num_labels} has no meaning for task_type {self.task_type!r}: remove it"
            )
        if self.label_names is not None and len(self.label_names) != self.num_labels:
            raise ValueError(
                f"label_names has {len(self.label_names)} names but num_labels is {self.num_labels}: "
                "give one name per class"
            )
        return self


__all__ = [
    "EMBEDDED_MODELS", "HEAD_TASK_TYPES", "ModelConfig", "StrictModel", "TaskType", "TrainingConfig", "as_training_config",
]


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value  # report_to="wandb", as the HF Trainer takes it


def _installed_trackers(value: list[str] | None) -> list[str] | None:
    if value is not None:  # None: an unset override (pipeline.overrides)
        trackers(value)
    return value


# Upper bounds far above any real run: a typo such as 1e9 is refused before any work, not after an hour.
MAX_BATCH = 65_536


class TrainingConfig(StrictModel):
    """One training run. Unset learning rate / optimizer take the method's paper-derived default."""

    learning_rate: float | None = Field(default=None, gt=0, description="Peak learning rate; None = method default.")
    head_learning_rate: float | None = Field(
        default=None, gt=0,
        description="Peak learning rate of a trained task head (classification, QA, multiple choice); None = "
                    "learning_rate. The head starts from scratch while the adapter nudges a pretrained model.",
    )
    optimizer: Literal["adamw", "adafactor"] | None = Field(default=None, description="None = method default.")
    weight_decay: float = Field(default=0.0, ge=0)
    lr_scheduler: Literal["linear", "cosine", "constant"] = Field(default="linear", description="Decay after warm-up.")
    warmup_ratio: float = Field(default=0.06, ge=0, lt=1, description="Share of the steps spent warming up.")
    num_epochs: int = Field(default=3, ge=1, le=100_000)
    max_steps: int | None = Field(default=None, ge=1, le=10**9, description="Stop after this many optimizer steps.")
    batch_size: int = Field(default=8, ge=1, le=MAX_BATCH, description="Examples per process per micro-batch.")
    eval_batch_size: int = Field(default=32, ge=1, le=MAX_BATCH)
    gradient_accumulation_steps: int = Field(default=1, ge=1, le=MAX_BATCH)
    max_grad_norm: float | None = Field(default=1.0, gt=0, description="Clip gradients to this norm; None = off.")
    mixed_precision: Literal["no", "fp16", "bf16"] = Field(default="no")
    gradient_checkpointing: bool = Field(default=False)
    seed: int = Field(default=42, ge=0, le=2**32 - 1, description="Seeds every random generator (numpy takes 32 bits).")
    log_every: int = Field(default=10, ge=1, description="Optimizer steps between training-loss log lines.")
    eval_every: int | None = Field(default=None, ge=1, description="Optimizer steps between evaluations; None = each epoch.")
    metric_for_best: str = Field(default="eval_loss", description="Eval metric that selects the best checkpoint.")
    early_stopping_patience: int | None = Field(
        default=None, ge=1, description="Stop after this many evaluations without improvement."
    )
    checkpoint_every: int | None = Field(default=None, ge=1, description="Optimizer steps between resumable checkpoints.")
    # Off by default: on drug reviews (MiniLM, P-tuning v2, 3 seeds) it cut epoch time by a quarter and
    # moved held-out loss only within seed noise, but it reorders every existing run's examples.
    group_by_length: bool = Field(
        default=False,
        description="Batch training examples of similar length together (less padding); the order stays "
                    "a function of the seed and the epoch.",
    )
    class_weighting: Literal["none", "balanced", "balanced_sqrt"] = Field(
        default="none",
        description="'balanced': weigh each class's loss by n / (k * count) over the training split, "
                    "for skewed labels; 'balanced_sqrt': by its square root, a milder push towards the "
                    "minority classes. Classification tasks only. eval_loss stays unweighted, so pick the "
                    "best checkpoint by metric_for_best='eval_macro_f1'.",
    )

    report_to: Annotated[
        list[TrackerName], BeforeValidator(_as_list), AfterValidator(_installed_trackers)
    ] = Field(
        default=[],  # a default, not a factory, so pipeline.overrides can make the field optional; pydantic copies it
        description="Experiment trackers (accelerate's: dvclive, tensorboard, mlflow, wandb, comet_ml, aim, clearml, "
                    "trackio, swanlab), as the Hugging Face Trainer's report_to; [] or 'none' = no tracker.",
    )

    @property
    def greater_is_better(self) -> bool:
        return greater_is_better(self.metric_for_best)


def greater_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` is better: every score but losses and perplexities."""
    return not metric.endswith(("loss", "perplexity"))


def as_training_config(value: TrainingConfig | Mapping[str, Any]) -> TrainingConfig:
    """A ``TrainingConfig``, or one built from a plain dict; an unknown key is named with the fix."""
    if isinstance(value, TrainingConfig):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"training_config is a {type(value).__name__}: pass a TrainingConfig or a dict of its fields")
    unknown = sorted(set(value) - set(TrainingConfig.model_fields))
    if unknown:
        raise ValueError(
            f"training_config key {unknown[0]!r} is not a TrainingConfig field: use one of {sorted(TrainingConfig.model_fields)}"
        )
    return TrainingConfig.model_validate(dict(value))
