"""LoRA (Hu et al. 2021) through PEFT: the parameter-efficient reference point."""

from prefixes.methods.lora.config import LoraConfig
from prefixes.methods.registry import MethodSpec, register_method

# The LoRA paper's RoBERTa learning-rate range.
SPEC = register_method(MethodSpec(
    name="lora",
    config_class=LoraConfig,
    wrapper="prefixes.methods.lora.wrapper:LoraModel",
    kind="baseline",
    training_defaults={"learning_rate": 5e-4, "optimizer": "adamw"},
))
