"""Prefix tuning (Li & Liang 2021): learned keys/values in every attention layer, trained through an MLP."""

from prefixes.methods.prefix.config import PrefixConfig
from prefixes.methods.registry import MethodSpec, register_method

# Li & Liang train the MLP-reparameterised prefix with AdamW at 5e-5..8e-5 on GPT-2 for many
# epochs; with short CPU budgets on small models, 1e-3 converges in a few hundred steps.
SPEC = register_method(MethodSpec(
    name="prefix",
    config_class=PrefixConfig,
    wrapper="prefixes.methods.prefix.wrapper:PrefixTuningModel",
    kind="prefix",
    training_defaults={"learning_rate": 1e-3, "optimizer": "adamw"},
    config_defaults={"reparameterization": True},
))
