"""From a task's params to library objects: its wrapped model, its tokenising format, its features."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from pipeline.common import naming_the_model
from pipeline.layout import split_file
from pipeline.params import TASK_TYPE_BY_FORMAT, TaskConfig
from prefixes.config import ModelConfig
from prefixes.data.formats import (
    CausalGenerationFormat,
    ClassificationFormat,
    ExtractiveQAFormat,
    MultipleChoiceFormat,
    Seq2SeqGenerationFormat,
)
from prefixes.data.truncation import logger as truncation_logger
from prefixes.methods.registry import get_method


def model_config(task: TaskConfig, model_name_or_path: str, label_names: list[str] | None) -> ModelConfig:
    """The base model with the head the task's format needs."""
    return ModelConfig(
        model_name_or_path=model_name_or_path,
        task_type=TASK_TYPE_BY_FORMAT[task.format],
        num_labels=len(label_names) if task.format == "classification" and label_names else None,
        label_names=label_names if task.format == "classification" and label_names else None,
    )


def build_model(task: TaskConfig, model_name_or_path: str, method: str, method_config,
                label_names: list[str] | None):
    """Load the task's base model with the right head and wrap it for the method."""
    config = model_config(task, model_name_or_path, label_names)
    with naming_the_model(task.model, model_name_or_path):
        return get_method(method).wrapper_class().from_config(config, method_config)


def task_format(task: TaskConfig, tokenizer, label_names: list[str] | None):
    """The tokenising format of a task."""
    if task.format == "classification":
        return ClassificationFormat(tokenizer, cast(list[str], label_names), task.max_length)
    if task.format == "multiple_choice":  # label_names name the choices, in order
        return MultipleChoiceFormat(tokenizer, cast(list[str], label_names), task.max_length)
    if task.format == "extractive_qa":
        return ExtractiveQAFormat(tokenizer, task.max_length)
    generation = CausalGenerationFormat if task.format == "causal_generation" else Seq2SeqGenerationFormat
    kwargs: dict[str, Any] = {"max_target_length": task.max_target_length}
    if task.template is not None:
        kwargs["template"] = task.template
    return generation(tokenizer, task.max_length, **kwargs)


def _virtual_tokens(model) -> int:
    adapters = getattr(model, "adapters", {})
    return max((adapter.length for adapter in adapters.values()), default=0)


def encode_splits(task: TaskConfig, model, label_names, splits: dict) -> tuple[dict, dict]:
    """Tokenise the splits; absolute-position encoders lose room to the virtual tokens."""
    fmt = task_format(task, model.tokenizer, label_names)
    limit = getattr(model.base_model.config, "max_position_embeddings", None)
    reserved = _virtual_tokens(model)
    if limit is not None and task.max_length + reserved > limit:
        raise ValueError(
            f"max_length {task.max_length} + {reserved} virtual tokens exceeds the model's "
            f"{limit} positions: lower tasks.*.max_length to at most {limit - reserved}"
        )
    encoded, reports = {}, {}
    with truncation_said_by_the_pipeline():
        for name, examples in splits.items():
            # Bad data is reported by the prepared file and row it sits in.
            encoded[name], report = fmt.encode(examples, origin=f"Prepared file {split_file(name)}")
            reports[name] = {"examples": report.total, "truncated": report.truncated, "max_length": report.max_length}
    return encoded, reports


@contextmanager
def truncation_said_by_the_pipeline() -> Iterator[None]:
    """The library's own truncation warning, off: prepare reports each split's truncation against
    the task's limits (and a run's summary records it), so the library's line would repeat it."""
    level = truncation_logger.level
    truncation_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        truncation_logger.setLevel(level)
