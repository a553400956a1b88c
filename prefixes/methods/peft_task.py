"""The PEFT task type of a task, and PEFT's wrapping, for the baselines that train through PEFT (LoRA, (IA)^3)."""

from __future__ import annotations

import warnings
from typing import Any

PEFT_TASK_TYPES = {
    "text_generation": "CAUSAL_LM",
    "text_classification": "SEQ_CLS",
    "seq2seq_generation": "SEQ_2_SEQ_LM",
    "question_answering": "QUESTION_ANS",
}


def peft_task_type(task_type: str, method_label: str) -> str:
    """PEFT's name for ``task_type``; a task PEFT has no type for is refused, naming the way out."""
    if task_type not in PEFT_TASK_TYPES:
        raise ValueError(f"task_type {task_type!r}: PEFT has no {method_label} task type for it (it serves "
                         f"{sorted(PEFT_TASK_TYPES)}); compare against full_finetune, or leave the task out")
    return PEFT_TASK_TYPES[task_type]


def wrapped_by_peft(base: Any, config: Any) -> Any:
    """``peft.get_peft_model``, without the FutureWarning PEFT 0.21 triggers by reading transformers'
    deprecated ``is_gradient_checkpointing``: it is PEFT's to fix and says nothing to our users."""
    from peft import get_peft_model

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(base, config)
