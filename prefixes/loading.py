"""One load path for every saved artifact: a prefix or prompt (``prefix_config.json``) or a
baseline (``baseline_config.json``: full fine-tuning, LoRA, (IA)^3), each with its method's wrapper."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prefixes.artifact.schema import CONFIG_NAME


def load(path: str | os.PathLike, base_model: Any = None) -> Any:
    """The model saved in ``path``, in eval mode, with the wrapper its method is registered with.

    ``base_model`` (prefix and prompt artifacts only) is a loaded transformers model to put the
    adapter on; by default the recorded base model is loaded.
    """
    from prefixes.methods.full_finetune.wrapper import BASELINE_CONFIG, FullFinetuneModel
    from prefixes.model import load_adapter

    folder = Path(path)
    if (folder / CONFIG_NAME).is_file():
        return load_adapter(folder, base_model)
    if (folder / BASELINE_CONFIG).is_file():
        if base_model is not None:
            raise ValueError(f"{folder} is a baseline, which saved its own weights: load it without base_model")
        return FullFinetuneModel.from_pretrained(folder)
    raise ValueError(
        f"{folder} holds neither {CONFIG_NAME} (a prefix or prompt) nor {BASELINE_CONFIG} (a baseline): give the "
        "folder a model's save_pretrained wrote"
    )
