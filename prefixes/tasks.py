"""Tasks: which data, which format, which base model; and the steps the pipeline runs for each.

A task ties a data source to a task format and a base model. ``prepare_task`` writes its splits;
``build_model`` wraps the base model for a method; ``encode_split`` tokenises a split for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from prefixes.config import ModelConfig, PrefixConfig, PromptConfig, StrictModel
from prefixes.data import (
    CausalGenerationFormat,
    ClassificationFormat,
    ExtractiveQAFormat,
    Seq2SeqGenerationFormat,
    fingerprint,
    load_examples,
    load_source,
    save_examples,
    split_examples,
)
from prefixes.model import AdaptedModel
from prefixes.prefix_model import PrefixTuningModel
from prefixes.prompt_model import PromptTuningModel

TaskFormat = Literal["classification", "causal_generation", "seq2seq_generation", "extractive_qa"]
TASK_TYPE_BY_FORMAT = {
    "classification": "text_classification",
    "causal_generation": "text_generation",
    "seq2seq_generation": "seq2seq_generation",
    "extractive_qa": "question_answering",
}
SPLITS = ("train", "eval", "test")


class TaskConfig(StrictModel):
    """One task of the pipeline."""

    source: str = Field(description="Packaged dataset name, local file, or hub dataset id.")
    columns: dict[str, str] | None = Field(default=None, description="Example field -> file column, for files.")
    format: TaskFormat
    model: str = Field(description="Key into `models`: the frozen base model this task's prefixes sit on.")
    max_length: int = Field(default=128, ge=8, description="Tokens per example, virtual tokens excluded.")
    max_target_length: int | None = Field(default=None, ge=1, description="Generation: tokens kept of the target.")
    template: str | None = Field(default=None, description="Generation: prompt template with one {source} slot.")
    eval_fraction: float = Field(default=0.1, gt=0, lt=1)
    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    max_examples: dict[Literal["train", "eval", "test"], int] | None = Field(
        default=None, description="Caps per split (after the split), e.g. {train: 800}."
    )

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> TaskConfig:
        if self.eval_fraction + self.test_fraction >= 0.9:
            raise ValueError(
                f"eval_fraction + test_fraction = {self.eval_fraction + self.test_fraction:.2f} leaves "
                "under 10% for training: lower them"
            )
        return self


def prepare_task(task: TaskConfig, *, seed: int, output_dir: str | Path) -> dict:
    """Load, de-duplicate and split the task's data; write the splits and a summary with fingerprints."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    examples = load_source(task.source, columns=task.columns)
    splits = split_examples(
        examples, seed=seed, eval_fraction=task.eval_fraction, test_fraction=task.test_fraction,
        max_examples=task.max_examples,
    )
    summary = {"source": task.source, "seed": seed, "fingerprints": {}, "counts": {}}
    for name in SPLITS:
        save_examples(output_dir / f"{name}.jsonl", splits[name])
        summary["fingerprints"][name] = fingerprint(splits[name])
        summary["counts"][name] = len(splits[name])
    summary["fingerprint"] = fingerprint(splits["train"] + splits["eval"] + splits["test"])
    if task.format == "classification":
        summary["label_names"] = sorted({example.label for example in examples})
    (output_dir / "data.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def read_prepared(directory: str | Path) -> tuple[dict, dict]:
    """The summary and the three splits written by ``prepare_task``."""
    directory = Path(directory)
    summary = json.loads((directory / "data.json").read_text())
    return summary, {name: load_examples(directory / f"{name}.jsonl") for name in SPLITS}


def build_model(task: TaskConfig, model_name_or_path: str, method_config: PrefixConfig | PromptConfig,
                label_names: list[str] | None) -> AdaptedModel:
    """Load the task's base model with the right head and wrap it for the method."""
    model_config = ModelConfig(
        model_name_or_path=model_name_or_path,
        task_type=TASK_TYPE_BY_FORMAT[task.format],
        num_labels=len(label_names) if task.format == "classification" else None,
    )
    if isinstance(method_config, PromptConfig):
        return PromptTuningModel.from_config(model_config, method_config)
    return PrefixTuningModel.from_config(model_config, method_config)


def task_format(task: TaskConfig, tokenizer, label_names: list[str] | None):
    """The tokenising format of a task."""
    if task.format == "classification":
        return ClassificationFormat(tokenizer, label_names, task.max_length)
    if task.format == "extractive_qa":
        return ExtractiveQAFormat(tokenizer, task.max_length)
    generation = CausalGenerationFormat if task.format == "causal_generation" else Seq2SeqGenerationFormat
    kwargs = {"max_target_length": task.max_target_length}
    if task.template is not None:
        kwargs["template"] = task.template
    return generation(tokenizer, task.max_length, **kwargs)
