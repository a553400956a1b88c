"""The `methods` section of params.yaml: each registered method's config fields and training overrides.

Which methods exist is the library's method registry's business; params only name them. A
method's config is validated by its own config class, completed per task where the method says
how (prompt tuning's class-label words), so no method name is spelled out here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from pipeline.overrides import TrainingOverrides
from prefixes.methods.registry import ArtifactKind, get_method, method_names
from prefixes.strict import StrictModel

STAND_IN_LABELS = ["label"]
"""Label names used to validate a config before any task's data is read."""


class MethodSettings(StrictModel):
    """A method's configuration fields and its training overrides."""

    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Fields of the method's config class; unset fields take the method's defaults.",
    )
    training: TrainingOverrides = Field(
        default_factory=TrainingOverrides, description="Overrides of the shared `training` section."
    )


def kind_problems(names: list[str], kind: ArtifactKind) -> list[str]:
    """Names in a list of methods of one kind that the registry does not know as that kind."""
    return [f"{name!r} is not a registered {kind} method; registered: {method_names(kind)}"
            for name in names if name not in method_names(kind)]


def config_problems(methods: dict[str, MethodSettings]) -> list[str]:
    """Unknown methods and config fields their method's config class refuses."""
    problems = []
    for name, settings in methods.items():
        try:
            spec = get_method(name)
            spec.config_for_task(settings.config, STAND_IN_LABELS)
        except ValueError as error:  # an unknown method, or pydantic's ValidationError
            problems += _config_errors(name, error)
            continue
        problems += lax_values(f"{name}.config", spec.config_class, settings.config)
    return problems


def lax_values(owner: str, config_class: type[BaseModel], fields: dict[str, Any]) -> list[str]:
    """Fields whose value only a lax reading accepts: `"16"` or `true` for a prefix length. The config
    class itself is lax for Python callers; in params.yaml such a value is a typo, refused like any other."""
    problems = []
    for key, value in fields.items():
        annotation = config_class.model_fields[key].annotation if key in config_class.model_fields else None
        if annotation is not None:
            try:
                TypeAdapter(annotation).validate_python(value, strict=True)
            except ValidationError as error:
                problems.append(f"{owner}.{key}: {error.errors()[0]['msg']} (got {value!r:.80})")
    return problems


def _config_errors(owner: str, error: ValueError) -> list[str]:
    if not isinstance(error, ValidationError):
        return [f"{owner}: {error}"]
    return [f"{owner}.config.{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg'].removeprefix('Value error, ')}"
            for e in error.errors()]


def method_config(methods: dict[str, MethodSettings], method: str, label_names: list[str] | None,
                  task_fields: dict[str, Any] | None = None):
    """The method's config for a task with these labels; `task_fields` replace the method's own fields."""
    settings = methods.get(method, MethodSettings())
    return get_method(method).config_for_task({**settings.config, **(task_fields or {})}, label_names)


def task_config_problems(methods: dict[str, MethodSettings], per_task: dict[str, dict[str, dict[str, Any]]],
                         known_methods: list[str]) -> list[str]:
    """Problems of `task_method_config`: unknown methods, and merged configs the method refuses."""
    problems = []
    for task, per_method in per_task.items():
        for method, fields in per_method.items():
            owner = f"task_method_config.{task}.{method}"
            if method not in known_methods:
                problems.append(f"{owner}: unknown method; the runs use {known_methods}")
                continue
            try:
                method_config(methods, method, STAND_IN_LABELS, fields)
            except ValueError as error:
                problems += [problem.replace(f"{owner}.config.", f"{owner}.", 1)
                             for problem in _config_errors(owner, error)]
                continue
            problems += lax_values(owner, get_method(method).config_class, fields)
    return problems
