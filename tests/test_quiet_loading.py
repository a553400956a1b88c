"""Warnings that our own code would cause do not reach users: building a prefix model asks
transformers for no deprecated name, and PEFT's wrapping of a baseline raises no FutureWarning."""

from __future__ import annotations

import logging
import warnings

import pytest
from conftest import tiny_model
from transformers.utils import logging as transformers_logging

from prefixes import PrefixConfig, PrefixTuningModel
from prefixes.methods.peft_task import wrapped_by_peft


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.parametrize("arch", ["bert", "llama", "t5"])
def test_building_a_prefix_model_logs_no_past_key_values_deprecation(arch):
    collect = _Collect()
    logger = transformers_logging.get_logger("transformers")
    logger.addHandler(collect)
    transformers_logging.get_logger("transformers.utils.generic").warning_once.cache_clear()  # type: ignore[attr-defined]
    try:
        PrefixTuningModel.from_model(tiny_model(arch), PrefixConfig(prefix_length=3))
    finally:
        logger.removeHandler(collect)
    assert not [message for message in collect.messages if "deprecated" in message]


def test_peft_wrapping_of_a_baseline_raises_no_future_warning():
    from peft import LoraConfig

    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        wrapped_by_peft(tiny_model("llama"), LoraConfig(task_type="CAUSAL_LM", r=2, target_modules="all-linear"))
