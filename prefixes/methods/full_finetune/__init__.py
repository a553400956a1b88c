"""Full fine-tuning: the reference point that trains every weight of the base model."""

from prefixes.methods.full_finetune.config import FullFinetuneConfig
from prefixes.methods.registry import MethodSpec, register_method

# BERT-paper style small learning rate.
SPEC = register_method(MethodSpec(
    name="full_finetune",
    config_class=FullFinetuneConfig,
    wrapper="prefixes.methods.full_finetune.wrapper:FullFinetuneModel",
    kind="baseline",
    training_defaults={"learning_rate": 5e-5, "optimizer": "adamw"},
))
