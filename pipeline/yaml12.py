"""Read YAML the way DVC does: YAML 1.2 booleans and floats, so ``no`` stays a string and ``1e-3`` is a number.

DVC reads and rewrites params.yaml with ruamel.yaml (YAML 1.2); ``dvc exp run -S`` drops the
quotes around ``"no"`` because to YAML 1.2 a bare ``no`` is already a string. PyYAML's
``safe_load`` follows YAML 1.1, where a bare ``no`` is False, so a value such as
``mixed_precision: "no"`` would change meaning after any ``-S`` override. YAML 1.1 also needs a
dot in a float, so ``1e-3`` would be the string "1e-3" here and the number 0.001 to DVC.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_BOOL_TAG = "tag:yaml.org,2002:bool"


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader whose only booleans are true / false (any of three cases), and whose
    floats include exponents without a dot."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9]+[eE][-+]?[0-9]+$"), list("-+0123456789")
)


def load_yaml(text: str) -> Any:
    """``text`` parsed as DVC would parse it."""
    return yaml.load(text, Loader=Yaml12Loader)  # noqa: S506 - a SafeLoader subclass
