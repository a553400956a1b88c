"""Prepare's truncation check: how many examples of each split the task's format cuts.

Above `WARN_FRACTION` of a split the prepare stage warns (logged, and kept in data.json); above
the task's `max_truncated_fraction` it refuses, naming the settings that fix it. Generation tasks
are measured twice: the training encodings (source and target within `max_length`) and the
generation prompts, whose room is `max_length` minus `max_target_length`.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from pipeline.params import TaskConfig
from pipeline.tasks import task_format, truncation_said_by_the_pipeline
from prefixes.data.example import DataError, Example

logger = logging.getLogger(__name__)

WARN_FRACTION = 0.10
"""A split with a larger share of truncated examples is warned about."""


def measure_truncation(
    task: TaskConfig, tokenizer: Any, splits: dict[str, list[Example]], label_names: list[str] | None
) -> dict[str, dict]:
    """Per split: examples, truncated and fraction; for generation also prompts_truncated and
    prompt_fraction (prompts that lose source tokens)."""
    fmt = task_format(task, tokenizer, label_names)
    measured: dict[str, dict] = {}
    for name, examples in splits.items():
        with truncation_said_by_the_pipeline():
            _, report = fmt.encode(examples)
        entry = {"examples": report.total, "truncated": report.truncated, "fraction": report.fraction}
        prompt_truncation = getattr(fmt, "prompt_truncation", None)  # generation formats only
        if prompt_truncation is not None:
            prompts = prompt_truncation(examples)
            entry |= {"prompts_truncated": prompts.truncated, "prompt_fraction": prompts.fraction}
        measured[name] = entry
    return measured


def check_truncation(task_name: str, task: TaskConfig, measured: dict[str, dict]) -> list[str]:
    """The warnings (each also logged) for splits truncated above WARN_FRACTION.

    Raises DataError, naming task, split, fraction and the settings to change, when a split's
    fraction exceeds the task's `max_truncated_fraction`.
    """
    warnings, refusals = [], []
    for split, entry in measured.items():
        for fraction_key, count_key in (("fraction", "truncated"), ("prompt_fraction", "prompts_truncated")):
            if fraction_key not in entry or entry[fraction_key] <= WARN_FRACTION:
                continue
            message = _describe(task_name, task, split, entry[count_key], entry["examples"], prompts=count_key != "truncated")
            if entry[fraction_key] > task.max_truncated_fraction:
                refusals.append(message + _fix(task_name, task, entry[fraction_key]))
            else:
                warnings.append(message)
    if refusals:
        raise DataError("; ".join(refusals))
    for warning in warnings:
        logger.warning("%s", warning)
    return warnings


def _describe(task_name: str, task: TaskConfig, split: str, truncated: int, total: int, *, prompts: bool) -> str:
    share = f"{truncated}/{total} ({truncated / total:.1%})"
    if prompts:
        room = task.max_length - (task.max_target_length or 0)
        return (f"tasks.{task_name}: {share} of the {split} split's generation prompts lose source tokens "
                f"(max_length={task.max_length} minus max_target_length={task.max_target_length} "
                f"leaves {room} tokens for the prompt)")
    return (f"tasks.{task_name}: {share} of the {split} split's examples are truncated to "
            f"max_length={task.max_length} tokens")


def _fix(task_name: str, task: TaskConfig, fraction: float) -> str:
    raise_length = f"raise tasks.{task_name}.max_length"
    if task.max_target_length is not None:
        raise_length += f" or lower tasks.{task_name}.max_target_length"
    # Rounded up, so the suggested setting does accept the measured fraction.
    accept = min(1.0, math.ceil(fraction * 100) / 100)
    return (f", above tasks.{task_name}.max_truncated_fraction={task.max_truncated_fraction}: {raise_length}, "
            f"or accept it with tasks.{task_name}.max_truncated_fraction: {accept}")
