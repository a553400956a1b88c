"""Read YAML the way DVC does: with ruamel.yaml's safe loader, DVC's own reader of params files.

DVC reads and rewrites params.yaml with ruamel.yaml (YAML 1.2): a bare ``no`` is a string, ``1e-3``
and ``-.5`` are numbers, ``010`` and ``0777`` are decimal (10 and 777), ``1:30`` is a string, and a
repeated key is an error. PyYAML follows YAML 1.1 and reads each of these differently (``010`` is 8,
``1:30`` is 90), so a run would train with one value while DVC records another. Reading with the
very loader DVC uses (``dvc.utils.serialize.parse_yaml``) keeps the two from ever disagreeing.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError


class YamlError(ValueError):
    """A YAML text that DVC could not read either; the message names the line."""


def load_yaml(text: str) -> Any:
    """``text`` parsed as DVC parses a params file."""
    try:
        return YAML(typ="safe").load(text)
    except YAMLError as error:
        raise YamlError(str(error)) from None
