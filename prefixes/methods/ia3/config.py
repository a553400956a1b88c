"""Configuration of the (IA)^3 baseline (torch-free)."""

from __future__ import annotations

from pydantic import Field, model_validator

from prefixes.strict import StrictModel


class IA3Config(StrictModel):
    """(IA)^3 scaling vectors on the layers PEFT's defaults name for the architecture.

    The defaults follow the paper: keys, values and the feed-forward activations (the input of
    the feed-forward output projection). On BERT-style models PEFT's ``output.dense`` also
    matches the attention output projection, whose input is rescaled as well. ``target_modules``
    replaces the defaults, e.g. for an architecture PEFT has none for.
    """

    target_modules: list[str] | None = Field(
        default=None, min_length=1,
        description="Module name suffixes to rescale; None = PEFT's defaults for the architecture.",
    )
    feedforward_modules: list[str] | None = Field(
        default=None,
        description="Those of target_modules whose input (not output) is rescaled; None = PEFT's defaults. "
        "Set together with target_modules.",
    )

    @model_validator(mode="after")
    def _feedforward_within_targets(self) -> IA3Config:
        if (self.target_modules is None) != (self.feedforward_modules is None):
            raise ValueError(
                f"target_modules={self.target_modules} and feedforward_modules={self.feedforward_modules}: "
                "set both (feedforward_modules may be []) or neither for PEFT's defaults"
            )
        outside = sorted(set(self.feedforward_modules or []) - set(self.target_modules or []))
        if outside:
            raise ValueError(f"feedforward_modules {outside} are not in target_modules={self.target_modules}: "
                             "add them to target_modules or drop them")
        return self
