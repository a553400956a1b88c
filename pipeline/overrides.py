"""Typed training overrides: every key of `TrainingConfig`, each optional, with its own constraints.

A method, a task, or a task's method may override any training setting. Validating the
overrides where they are written (not only after merging) names the exact key of a bad value,
e.g. `methods.prefix.training.learning_rate`, and refuses unknown keys.
"""

from __future__ import annotations

from pydantic import Field, create_model
from pydantic.fields import FieldInfo

from prefixes.config import StrictModel, TrainingConfig


def _optional(field: FieldInfo) -> tuple:
    # Same constraints and description, but absent by default: only what is set overrides.
    return field.annotation | None, FieldInfo.merge_field_infos(field, default=None)  # type: ignore[operator]


TrainingOverrides = create_model(  # type: ignore[call-overload]
    "TrainingOverrides",
    __base__=StrictModel,
    __doc__="Any training settings, overriding the shared `training` section.",
    **{name: _optional(field) for name, field in TrainingConfig.model_fields.items()},
)


class TaskTrainingOverrides(TrainingOverrides):  # type: ignore[misc, valid-type]
    """A task's overrides, and narrower ones for single methods on that task."""

    methods: dict[str, TrainingOverrides] = Field(  # type: ignore[valid-type]
        default_factory=dict, description="Method -> overrides that apply to this task only."
    )


def set_values(overrides: StrictModel | None) -> dict:
    """The settings an override actually sets."""
    if overrides is None:
        return {}
    return overrides.model_dump(exclude_unset=True, exclude={"methods"})
