"""The base of every validated config: unknown keys are errors, instances are immutable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Base for every config: unknown keys are errors and instances are immutable.

    A typo'd key is an error that names the key, never a silently ignored setting; NaN and
    infinity are refused wherever a float is expected.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
