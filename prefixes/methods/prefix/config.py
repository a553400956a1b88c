"""Configuration of prefix tuning and P-tuning v2 (torch-free)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from prefixes.strict import StrictModel


class PrefixConfig(StrictModel):
    """Prefix tuning (Li & Liang 2021) and, with `reparameterization=False`, P-tuning v2."""

    prefix_length: int = Field(default=10, ge=1, le=1024, description="Virtual tokens per attention layer.")
    prefix_hidden_size: int = Field(
        default=512, ge=1, description="Hidden width of the reparameterisation MLP (training only)."
    )
    prefix_dropout: float = Field(
        default=0.1, ge=0.0, lt=1.0, description="Dropout on the prefix keys and values while training."
    )
    reparameterization: bool = Field(
        default=True,
        description="Train through an MLP (prefix tuning); False trains flat per-layer prefixes (P-tuning v2).",
    )
    init: Literal["random", "zero", "text", "vocab_sample"] = Field(
        default="random",
        description="'text': the keys/values of init_text's tokens; 'vocab_sample': those of tokens sampled "
        "from the first vocab_sample_size ids (in-distribution, so a flat prefix starts harmless).",
    )
    vocab_sample_size: int = Field(default=5000, ge=1, description="Sample ids below this for init='vocab_sample'.")
    init_text: str | None = Field(default=None, description="Text whose activations start the prefix.")

    @model_validator(mode="after")
    def _text_init_has_text(self) -> PrefixConfig:
        if self.init == "text" and not self.init_text:
            raise ValueError("init='text' needs init_text: give the text whose activations start the prefix")
        if self.init != "text" and self.init_text is not None:
            raise ValueError(f"init_text is only used with init='text' (init is {self.init!r}): remove it")
        return self

    def artifact_tensors(self, layout: dict | None, hidden_size: int | None) -> dict[str, tuple[int | None, ...]]:
        """Tensor name -> shape of a folded artifact (None: decided by the base model's layout).

        ``layout`` is the artifact's recorded attention sites (``PrefixLayout.to_dict()``).
        """
        if layout is None:  # the loader then takes the base model's layout
            return {"prefix": (self.prefix_length, None, 2, None, None)}
        sites = len(layout["site_kinds"])
        return {"prefix": (self.prefix_length, sites, 2, int(layout["num_kv_heads"]), int(layout["head_dim"]))}
