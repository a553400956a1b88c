"""Configuration of the LoRA baseline (torch-free)."""

from __future__ import annotations

from pydantic import Field

from prefixes.strict import StrictModel


class LoraConfig(StrictModel):
    """LoRA adapters on every linear layer of the base model."""

    r: int = Field(default=8, ge=1, description="Rank of each low-rank update.")
    alpha: int = Field(default=16, ge=1, description="Scale of the update (alpha / r).")
