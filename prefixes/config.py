"""Validated configuration for models and methods.

Every model here is strict (`extra="forbid"`): a typo'd key is an error that names the key, never a
silently ignored setting. Defaults live here and nowhere else.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

TaskType = Literal[
    "text_generation",
    "text_classification",
    "seq2seq_generation",
    "token_classification",
    "question_answering",
]

# Task types whose model ends in a freshly initialised head that has to train with the prefix.
HEAD_TASK_TYPES: frozenset[str] = frozenset(
    {"text_classification", "token_classification", "question_answering"}
)


class StrictModel(BaseModel):
    """Base for every config: unknown keys are errors and instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ModelConfig(StrictModel):
    """Which frozen base model to adapt, and for which kind of task."""

    model_name_or_path: str = Field(
        description="Hub id, local folder, or an embedded short name: 'minilm' or 'smollm2'."
    )
    task_type: TaskType = Field(description="Decides which transformers head class is loaded.")
    num_labels: int | None = Field(
        default=None, ge=1, description="Number of classes; required for classification tasks."
    )
    revision: str | None = Field(default=None, description="Hub revision (branch, tag or commit).")
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        default="float32", description="Dtype the base model's weights are loaded in."
    )

    @model_validator(mode="after")
    def _labels_match_task(self) -> ModelConfig:
        needs_labels = self.task_type in ("text_classification", "token_classification")
        if needs_labels and self.num_labels is None:
            raise ValueError(
                f"num_labels is required when task_type is {self.task_type!r}: "
                "set num_labels to the number of classes"
            )
        if not needs_labels and self.num_labels is not None:
            raise ValueError(
                f"num_labels={self.num_labels} has no meaning for task_type {self.task_type!r}: remove it"
            )
        return self


class PrefixConfig(StrictModel):
    """Prefix tuning (Li & Liang 2021) and, with `reparameterization=False`, P-tuning v2."""

    prefix_length: int = Field(default=10, ge=1, le=1024, description="Virtual tokens per attention layer.")
    prefix_hidden_size: int = Field(
        default=512, ge=1, description="Hidden width of the reparameterisation MLP (training only)."
    )
    prefix_dropout: float = Field(
        default=0.1, ge=0.0, lt=1.0, description="Dropout on the prefix keys and values while training."
    )
    reparameterization: bool = Field(
        default=True,
        description="Train through an MLP (prefix tuning); False trains flat per-layer prefixes (P-tuning v2).",
    )
    init: Literal["random", "zero", "text", "vocab_sample"] = Field(
        default="random",
        description="'text': the keys/values of init_text's tokens; 'vocab_sample': those of tokens sampled "
        "from the first vocab_sample_size ids (in-distribution, so a flat prefix starts harmless).",
    )
    vocab_sample_size: int = Field(default=5000, ge=1, description="Sample ids below this for init='vocab_sample'.")
    init_text: str | None = Field(default=None, description="Text whose activations start the prefix.")

    @model_validator(mode="after")
    def _text_init_has_text(self) -> PrefixConfig:
        if self.init == "text" and not self.init_text:
            raise ValueError("init='text' needs init_text: give the text whose activations start the prefix")
        if self.init != "text" and self.init_text is not None:
            raise ValueError(f"init_text is only used with init='text' (init is {self.init!r}): remove it")
        return self

    @property
    def method(self) -> str:
        return "prefix" if self.reparameterization else "p_tuning_v2"


class PromptConfig(StrictModel):
    """Prompt tuning (Lester et al. 2021): a soft prompt prepended to the input embeddings."""

    num_virtual_tokens: int = Field(default=20, ge=1, le=1024, description="Length of the soft prompt.")
    prompt_tuning_init: Literal["random", "text", "vocab_sample", "class_labels"] = Field(
        default="random", description="How the soft prompt starts."
    )
    prompt_tuning_init_text: str | None = Field(default=None, description="Text for init='text'.")
    class_labels: list[str] | None = Field(
        default=None, description="Label words for init='class_labels' (one per class)."
    )
    vocab_sample_size: int = Field(
        default=5000, ge=1, description="Sample ids below this for 'vocab_sample' (the paper's 5000)."
    )

    @model_validator(mode="after")
    def _init_inputs_present(self) -> PromptConfig:
        init = self.prompt_tuning_init
        if init == "text" and not self.prompt_tuning_init_text:
            raise ValueError(
                "prompt_tuning_init='text' needs prompt_tuning_init_text: give the text the prompt starts from"
            )
        if init == "class_labels" and not self.class_labels:
            raise ValueError("prompt_tuning_init='class_labels' needs class_labels: list the label words")
        if init == "class_labels" and self.class_labels and len(self.class_labels) > self.num_virtual_tokens:
            raise ValueError(
                f"class_labels has {len(self.class_labels)} words but num_virtual_tokens is "
                f"{self.num_virtual_tokens}: raise num_virtual_tokens to at least the number of labels"
            )
        return self

    @property
    def method(self) -> str:
        return "prompt"


class TrainingConfig(StrictModel):
    """One training run. Unset learning rate / optimizer take the method's paper-derived default."""

    learning_rate: float | None = Field(default=None, gt=0, description="Peak learning rate; None = method default.")
    optimizer: Literal["adamw", "adafactor"] | None = Field(default=None, description="None = method default.")
    weight_decay: float = Field(default=0.0, ge=0)
    lr_scheduler: Literal["linear", "cosine", "constant"] = Field(default="linear", description="Decay after warm-up.")
    warmup_ratio: float = Field(default=0.06, ge=0, lt=1, description="Share of the steps spent warming up.")
    num_epochs: int = Field(default=3, ge=1)
    max_steps: int | None = Field(default=None, ge=1, description="Stop after this many optimizer steps.")
    batch_size: int = Field(default=8, ge=1, description="Examples per process per micro-batch.")
    eval_batch_size: int = Field(default=32, ge=1)
    gradient_accumulation_steps: int = Field(default=1, ge=1)
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

    @property
    def greater_is_better(self) -> bool:
        return not self.metric_for_best.endswith(("loss", "perplexity"))
