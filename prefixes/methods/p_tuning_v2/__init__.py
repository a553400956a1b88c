"""P-tuning v2 (Liu et al. 2022): flat deep prefixes (no reparameterisation) plus a trained task head.

It shares the prefix method's config, encoder and wrapper; what makes it its own method is
``reparameterization=False`` and its learning rate.
"""

from prefixes.methods.prefix.config import PrefixConfig
from prefixes.methods.registry import MethodSpec, register_method

# P-tuning v2 trains flat prefixes at 5e-3..1e-2.
SPEC = register_method(MethodSpec(
    name="p_tuning_v2",
    config_class=PrefixConfig,
    wrapper="prefixes.methods.prefix.wrapper:PrefixTuningModel",
    kind="prefix",
    training_defaults={"learning_rate": 1e-2, "optimizer": "adamw"},
    config_defaults={"reparameterization": False},
))
