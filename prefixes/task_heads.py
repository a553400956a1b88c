"""Which task a transformers head class serves, and which of its parameters train with an adapter."""

from __future__ import annotations

from typing import Any

from torch import nn
from transformers import PreTrainedModel
from transformers.models.auto import modeling_auto as auto_names

from prefixes.config import HEAD_TASK_TYPES, TaskType


def _head_class_names(mapping: dict) -> set[str]:
    names: set[str] = set()
    for value in mapping.values():
        names.update([value] if isinstance(value, str) else value)
    return names


# transformers' own registry of which head class serves which task.
_TASK_BY_HEAD_CLASSES = {
    "text_generation": _head_class_names(auto_names.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES),
    "seq2seq_generation": _head_class_names(auto_names.MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES),
    "text_classification": _head_class_names(auto_names.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES),
    "question_answering": _head_class_names(auto_names.MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES),
    "multiple_choice": _head_class_names(auto_names.MODEL_FOR_MULTIPLE_CHOICE_MAPPING_NAMES),
}


def infer_task_type(model: PreTrainedModel) -> TaskType:
    """The task type transformers associates with the model's head class."""
    name = type(model).__name__
    for task_type, classes in _TASK_BY_HEAD_CLASSES.items():
        if name in classes:
            return task_type  # type: ignore[return-value]
    raise ValueError(f"cannot tell the task type of {name}: pass task_type=... explicitly")


def head_parameter_names(model: PreTrainedModel, task_type: str, fresh: list[str]) -> list[str]:
    """Parameters that train with the prefix: a classification/QA/multiple-choice head and any freshly initialised weight."""
    names = {name for name, _ in model.named_parameters()}
    head = {name for name in fresh if name in names}
    if task_type in HEAD_TASK_TYPES:
        backbone = model.base_model_prefix + "."
        head |= {name for name in names if not name.startswith(backbone)}
    return sorted(head)


def trainable_head_parameters(model: PreTrainedModel, task_type: str) -> list[nn.Parameter]:
    """The trainable parameters of a classification / QA / multiple-choice head: those outside the
    backbone. Generation heads are none: their output layer is part of the language model."""
    if task_type not in HEAD_TASK_TYPES:
        return []
    backbone = model.base_model_prefix + "."
    return [param for name, param in model.named_parameters() if param.requires_grad and not name.startswith(backbone)]


def optimizer_groups(model, params: list[nn.Parameter], head_learning_rate: float | None) -> list[dict[str, Any]]:
    """Optimizer parameter groups of ``params``: one at the run's learning rate, and the task head of
    ``model`` (an adapter wrapper or a baseline, see ``TrainableModel``) in its own group at
    ``head_learning_rate`` when that is set."""
    if head_learning_rate is None:
        return [{"params": params}]
    head = {id(param) for param in trainable_head_parameters(model.base_model, model.task_type)}
    groups: list[dict[str, Any]] = [{"params": [param for param in params if id(param) not in head]},
              {"params": [param for param in params if id(param) in head], "lr": head_learning_rate}]
    return [group for group in groups if group["params"]]
