"""Prompt tuning (Lester et al. 2021): a soft prompt of learned embeddings prepended to the input."""

from prefixes.methods.prompt.config import PromptConfig, fields_for_task
from prefixes.methods.registry import MethodSpec, register_method

# Lester et al. train the soft prompt with Adafactor at a constant 0.3.
SPEC = register_method(MethodSpec(
    name="prompt",
    config_class=PromptConfig,
    wrapper="prefixes.methods.prompt.wrapper:PromptTuningModel",
    kind="prompt",
    training_defaults={"learning_rate": 0.3, "optimizer": "adafactor"},
    task_fields=fields_for_task,
))
