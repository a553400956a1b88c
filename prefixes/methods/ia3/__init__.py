"""(IA)^3 (Liu et al. 2022) through PEFT: learned rescaling of keys, values and feed-forward activations.

The adapter-style reference point. AdapterHub's bottleneck adapters (Houlsby, Pfeiffer) would be
the classic one, but its ``adapters`` package pins transformers 4.x; (IA)^3 is the adapter-style
method PEFT maintains for the installed transformers.
"""

from prefixes.methods.ia3.config import IA3Config
from prefixes.methods.registry import MethodSpec, register_method

# T-Few (the (IA)^3 paper) trains with Adafactor at a fixed 3e-3.
SPEC = register_method(MethodSpec(
    name="ia3",
    config_class=IA3Config,
    wrapper="prefixes.methods.ia3.wrapper:IA3Model",
    kind="baseline",
    training_defaults={"learning_rate": 3e-3, "optimizer": "adafactor"},
))
