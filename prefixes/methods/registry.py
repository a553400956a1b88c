"""The method registry: every training method is registered once, by name, with what it needs.

In the spirit of PEFT's ``register_peft_method``: a :class:`MethodSpec` ties a name to its config
class, its wrapper class, its paper-derived training defaults and the kind of artifact it makes.
Nothing else in the library branches on a method name; it asks this registry.

This module and every method's config are torch-free: the wrapper class is named by dotted path
and imported only when a model is built, so validating params or reading the registry never
loads torch. The built-in methods register themselves when their package is imported; the
registry imports those packages on the first query.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel

# "prefix": keys/values in every attention layer; "prompt": embeddings at the input; one
# MultiTaskModel serves members of one kind. "baseline": reference points that train the base
# model itself (no prefix artifact).
ArtifactKind = Literal["prefix", "prompt", "baseline"]

BUILTIN_PACKAGES = (
    "prefixes.methods.prefix",
    "prefixes.methods.p_tuning_v2",
    "prefixes.methods.prompt",
    "prefixes.methods.full_finetune",
    "prefixes.methods.lora",
    "prefixes.methods.ia3",
)


@dataclass(frozen=True)
class MethodSpec:
    """Everything the library needs to know about one method."""

    name: str
    config_class: type[BaseModel]
    wrapper: str
    """Dotted path ``package.module:Class`` of the model wrapper; imported on first use."""
    kind: ArtifactKind
    training_defaults: Mapping[str, Any]
    """The method's default ``learning_rate`` and ``optimizer`` (TrainingConfig leaves them unset)."""
    config_defaults: Mapping[str, Any] = field(default_factory=dict)
    """Config field values that make a config this method's, when methods share a config class
    (P-tuning v2 is a PrefixConfig with ``reparameterization=False``)."""
    task_fields: Callable[[dict[str, Any], list[str] | None], dict[str, Any]] | None = None
    """Fills config fields from the task, given its label names (None for tasks without labels):
    prompt tuning's class-label initialisation takes the task's label words."""

    def wrapper_class(self) -> type[Any]:
        module, _, name = self.wrapper.partition(":")
        return getattr(importlib.import_module(module), name)

    def make_config(self, **fields: Any) -> BaseModel:
        """This method's config: its distinguishing defaults, then ``fields``."""
        return self.config_class.model_validate({**self.config_defaults, **fields})

    def config_for_task(self, fields: Mapping[str, Any], label_names: list[str] | None) -> BaseModel:
        """This method's config for one task: ``fields`` completed from the task where the method says how."""
        fields = dict(fields)
        if self.task_fields is not None:
            fields = self.task_fields(fields, label_names)
        return self.make_config(**fields)

    def matches(self, config: BaseModel) -> bool:
        """Whether ``config`` is this method's (its class and distinguishing values)."""
        return type(config) is self.config_class and all(
            getattr(config, key) == value for key, value in self.config_defaults.items()
        )


_METHODS: dict[str, MethodSpec] = {}
_builtins_loaded = False


def register_method(spec: MethodSpec) -> MethodSpec:
    """Make ``spec`` known by its name; a name can be registered once."""
    if spec.name in _METHODS:
        raise ValueError(f"method {spec.name!r} is already registered; pick another name")
    unknown = set(spec.config_defaults) - set(spec.config_class.model_fields)
    if unknown:
        raise ValueError(
            f"method {spec.name!r}: config_defaults {sorted(unknown)} are not fields of "
            f"{spec.config_class.__name__}"
        )
    _METHODS[spec.name] = MethodSpec(
        spec.name, spec.config_class, spec.wrapper, spec.kind,
        MappingProxyType(dict(spec.training_defaults)), MappingProxyType(dict(spec.config_defaults)),
        spec.task_fields,
    )
    return _METHODS[spec.name]


def unregister_method(name: str) -> None:
    """Forget a method (for plugins that are registered for a limited time, such as in tests)."""
    _METHODS.pop(name, None)


def get_method(name: str) -> MethodSpec:
    """The spec registered as ``name``; an unknown name is an error that lists the known ones."""
    _load_builtins()
    if name not in _METHODS:
        raise ValueError(f"unknown method {name!r}: registered methods are {sorted(_METHODS)}")
    return _METHODS[name]


def method_names(kind: ArtifactKind | None = None) -> list[str]:
    """Registered method names (of one artifact kind, if given), in registration order."""
    _load_builtins()
    return [name for name, spec in _METHODS.items() if kind is None or spec.kind == kind]


def method_of_config(config: BaseModel) -> MethodSpec:
    """The one registered method whose config class and distinguishing values ``config`` has."""
    _load_builtins()
    found = [spec for spec in _METHODS.values() if spec.matches(config)]
    if len(found) != 1:
        names = sorted(spec.name for spec in found)
        raise ValueError(
            f"{type(config).__name__} {config.model_dump()} matches {len(found)} registered methods "
            f"{names}: register each method with config_defaults that tell them apart"
        )
    return found[0]


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for package in BUILTIN_PACKAGES:
            importlib.import_module(package)
