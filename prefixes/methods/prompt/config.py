"""Configuration of prompt tuning (torch-free)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from prefixes.strict import StrictModel


class PromptConfig(StrictModel):
    """Prompt tuning (Lester et al. 2021): a soft prompt prepended to the input embeddings."""

    num_virtual_tokens: int = Field(default=20, ge=1, le=1024, description="Length of the soft prompt.")
    prompt_tuning_init: Literal["random", "text", "vocab_sample", "class_labels"] = Field(
        default="random", description="How the soft prompt starts."
    )
    prompt_tuning_init_text: str | None = Field(default=None, description="Text for init='text'.")
    class_labels: list[str] | None = Field(
        default=None, description="Label words for init='class_labels' (one per class)."
    )
    vocab_sample_size: int = Field(
        default=5000, ge=1, description="Sample ids below this for 'vocab_sample' (the paper's 5000)."
    )

    @model_validator(mode="after")
    def _init_inputs_present(self) -> PromptConfig:
        init = self.prompt_tuning_init
        if init == "text" and not self.prompt_tuning_init_text:
            raise ValueError(
                "prompt_tuning_init='text' needs prompt_tuning_init_text: give the text the prompt starts from"
            )
        if init == "class_labels" and not self.class_labels:
            raise ValueError("prompt_tuning_init='class_labels' needs class_labels: list the label words")
        if init == "class_labels" and self.class_labels and len(self.class_labels) > self.num_virtual_tokens:
            raise ValueError(
                f"class_labels has {len(self.class_labels)} words but num_virtual_tokens is "
                f"{self.num_virtual_tokens}: raise num_virtual_tokens to at least the number of labels"
            )
        return self


    def artifact_tensors(self, layout: dict | None, hidden_size: int | None) -> dict[str, tuple[int | None, ...]]:
        """Tensor name -> shape of a folded artifact: one embedding per virtual token."""
        return {"prompt": (self.num_virtual_tokens, hidden_size)}

def fields_for_task(fields: dict, label_names: list[str] | None) -> dict:
    """Class-label initialisation without words takes the task's label names; a task without labels
    (generation) starts from vocabulary samples instead, as the paper does."""
    if fields.get("prompt_tuning_init") != "class_labels" or fields.get("class_labels"):
        return fields
    if label_names:
        return {**fields, "class_labels": list(label_names)}
    return {**fields, "prompt_tuning_init": "vocab_sample"}
