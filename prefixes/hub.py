"""Share an artifact on the Hugging Face Hub: ``push_to_hub(folder, repo_id)`` through ``huggingface_hub``.

The folder goes up as it is (weights, ``prefix_config.json``, and the model card whose metadata header
the Hub reads; a registry version also carries its ``metadata.json``), so the Hub copy has the
registry's file hashes. Torch-free: pushing a registry version loads no model.
"""

from __future__ import annotations

import os
from pathlib import Path

from huggingface_hub import HfApi, constants
from huggingface_hub.hf_api import CommitInfo

from prefixes.artifact.schema import CARD_NAME, read_artifact_config


def push_to_hub(folder: str | os.PathLike, repo_id: str, *, private: bool | None = None, token: str | None = None,
                revision: str | None = None, commit_message: str | None = None,
                create_pr: bool = False) -> CommitInfo:
    """Create the model repository ``repo_id`` if it does not exist and upload the artifact in ``folder``.

    ``token`` defaults to the one ``hf auth login`` stored (or ``HF_TOKEN``); ``revision`` is a branch;
    ``create_pr`` opens a pull request instead of committing to it. Returns the commit (``.commit_url``).
    """
    folder = Path(folder)
    config = read_artifact_config(folder)  # refuses a folder that is not an artifact, naming what is missing
    if not (folder / CARD_NAME).is_file():
        raise FileNotFoundError(f"{folder} has no {CARD_NAME} model card, which the Hub shows and indexes: save the "
                                "model again with save_pretrained, which writes it (a registry version published "
                                "before cards: publish a new version from such a save)")
    if constants.is_offline_mode():
        raise ConnectionError(
            f"cannot push {folder} to {repo_id}: Hugging Face offline mode is on (HF_HUB_OFFLINE=1, which prefixes "
            "sets unless told otherwise); run with HF_HUB_OFFLINE=0 in the environment"
        )
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, repo_type="model", exist_ok=True)
    message = commit_message or f"Upload {config.method} adapter for {config.base_model.name_or_path} with prefixes"
    return api.upload_folder(repo_id=repo_id, folder_path=folder, repo_type="model", revision=revision,
                             commit_message=message, create_pr=create_pr)
