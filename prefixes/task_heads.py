"""Which task a transformers head class serves, and which of its parameters train with an adapter."""

from __future__ import annotations

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
