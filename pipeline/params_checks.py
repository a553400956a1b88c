"""Checks of params.yaml that look past single fields: names that must refer to defined tasks and
models, and base-model ids this machine cannot load.

Both work on the raw YAML too, so their problems are listed together with field errors in one report.
"""

from __future__ import annotations

import os
from pathlib import Path

from prefixes.config import EMBEDDED_MODELS

# huggingface_hub's own reading of HF_HUB_OFFLINE (constants._is_true).
_TRUE = {"1", "ON", "YES", "TRUE"}


def _section(owner: object, key: str, kind: type):
    value = owner.get(key) if isinstance(owner, dict) else None
    return value if isinstance(value, kind) else kind()


def name_problems(data: dict) -> list[str]:
    """Names that must refer to defined tasks and models. Works on raw, possibly invalid params
    too, so these problems are reported together with field errors, not after they are fixed."""
    tasks, models = _section(data, "tasks", dict), _section(data, "models", dict)
    problems = []
    for key, names in (("task_names", _section(data, "task_names", list)),
                       ("baselines.tasks", _section(_section(data, "baselines", dict), "tasks", list))):
        for name in names:
            if isinstance(name, str) and name not in tasks:
                problems.append(f"{key}: unknown task {name!r}; defined tasks are {sorted(tasks)}")
    for name, task in tasks.items():
        model = task.get("model") if isinstance(task, dict) else None
        if isinstance(model, str) and model not in models:
            problems.append(f"tasks.{name}.model: unknown model {model!r}; defined models are {sorted(models)}")
    for key in ("task_training", "task_method_config"):
        for name in _section(data, key, dict):
            if name not in tasks:
                problems.append(f"{key}.{name}: unknown task; defined tasks are {sorted(tasks)}")
    return problems


def offline() -> bool:
    """Whether the Hugging Face clients are offline (the `prefixes` default, see prefixes/__init__.py)."""
    return os.environ.get("HF_HUB_OFFLINE", "").upper() in _TRUE


def model_id_problems(data: dict) -> list[str]:
    """Offline, every `models` entry must be an embedded short name, a local folder or a model in the
    local Hugging Face cache; otherwise loading it fails (online: after a minute of retries) far from
    the key that names it. Online, the hub decides, and a failed load names the key (`naming_the_model`)."""
    if not offline():
        return []
    problems = []
    for key, model_id in _section(data, "models", dict).items():
        if isinstance(model_id, str) and model_id and not loadable_offline(model_id):
            problems.append(
                f"models.{key}: {model_id!r} is neither an embedded model ({', '.join(EMBEDDED_MODELS)}), a local "
                "folder nor in the local Hugging Face cache, and HF_HUB_OFFLINE=1: fix the id, or download it "
                "once by running with HF_HUB_OFFLINE=0"
            )
    return problems


def loadable_offline(model_id: str) -> bool:
    if model_id in EMBEDDED_MODELS or Path(model_id).is_dir():
        return True
    from huggingface_hub.constants import HF_HUB_CACHE  # a light module: no torch, no network

    snapshots = Path(HF_HUB_CACHE) / f"models--{model_id.replace('/', '--')}" / "snapshots"
    return snapshots.is_dir() and any(snapshots.iterdir())
