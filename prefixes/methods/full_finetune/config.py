"""Configuration of full fine-tuning (torch-free): nothing to choose beyond the training run."""

from __future__ import annotations

from prefixes.strict import StrictModel


class FullFinetuneConfig(StrictModel):
    """Full fine-tuning trains every weight; it has no settings of its own."""
