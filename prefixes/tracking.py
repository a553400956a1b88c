"""Experiment trackers through accelerate's tracker API: which exist, whether they are installed, and
how a training run starts, logs to and ends them.

``TrainingConfig.report_to`` names them as the Hugging Face Trainer's ``report_to`` does. accelerate
silently drops a tracker whose package is missing, so a missing package is refused here, when the
config is validated, not discovered after training with nothing logged. This module imports no torch:
params validation uses it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from accelerate import Accelerator

TrackerName = Literal["dvclive", "tensorboard", "mlflow", "wandb", "comet_ml", "aim", "clearml", "trackio", "swanlab",
                      "none"]
"""accelerate's trackers (``accelerate.utils.LoggerType`` less "all"), and "none" for no tracker."""

# tracker -> (modules any one of which makes it available, as accelerate checks; what to pip install)
_PACKAGES: dict[str, tuple[tuple[str, ...], str]] = {
    "dvclive": (("dvclive",), "dvclive"),
    "tensorboard": (("tensorboard", "tensorboardX"), "tensorboard"),
    "mlflow": (("mlflow",), "mlflow"),
    "wandb": (("wandb",), "wandb"),
    "comet_ml": (("comet_ml",), "comet-ml"),
    "aim": (("aim",), "aim"),
    "clearml": (("clearml",), "clearml"),
    "trackio": (("trackio",), "trackio"),
    "swanlab": (("swanlab",), "swanlab"),
}
DVCLIVE_DIR = "dvclive"
"""Inside a run's log folder: DVCLive's files (``metrics.json``: the last and best scores; ``plots/``: every step)."""


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def trackers(report_to: Iterable[str]) -> list[str]:
    """The trackers a ``report_to`` list starts: "none" (alone) means none."""
    names = list(report_to)
    if "none" in names and len(names) > 1:
        raise ValueError(f"{names}: 'none' means no tracker and stands alone; drop it or the other names")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{names}: {repeated} listed more than once; list each tracker once")
    missing = [name for name in names if name != "none" and not any(map(_installed, _PACKAGES[name][0]))]
    if missing:
        commands = ", ".join(f"`pip install {_PACKAGES[name][1]}`" for name in missing)
        raise ValueError(f"{missing} needs a package that is not installed: run {commands}, or remove it from report_to")
    return [name for name in names if name != "none"]


def start_tracking(accelerator: Accelerator, log_dir: Path | None, config: dict[str, Any], *, project: str) -> None:
    """Start the accelerator's trackers (its ``log_with``). DVCLive writes into ``log_dir/dvclive`` and
    neither saves a DVC experiment nor writes a dvc.yaml of its own: inside `dvc repro` or `dvc exp run`
    the pipeline's dvc.yaml declares its files, and the experiment is DVC's."""
    if not accelerator.log_with:
        return
    dvclive: dict[str, Any] = {"save_dvc_exp": False, "dvcyaml": None, "report": None}
    if log_dir is not None:
        dvclive["dir"] = str(log_dir / DVCLIVE_DIR)
    accelerator.init_trackers(project, init_kwargs={"dvclive": dvclive})
    # DVC already records the params of a pipeline run; the other trackers get them as hyperparameters.
    for tracker in accelerator.trackers:
        if tracker.name != "dvclive":
            tracker.store_init_configuration(config)


def log_best(accelerator: Accelerator, metrics: dict[str, float], step: int) -> None:
    """The selected evaluation's scores as ``best/<metric>``: summary values (DVC metrics), no curve."""
    values = {f"best/{name.removeprefix('eval_')}": value for name, value in metrics.items()}
    accelerator.log(values, step=step, log_kwargs={"dvclive": {"plot": False}})


def end_tracking(accelerator: Accelerator) -> None:
    """Close every tracker. Not ``accelerator.end_training()``: that also destroys the process group,
    which the caller may still need (saving, testing) after training."""
    for tracker in accelerator.trackers:
        tracker.finish()
    accelerator.trackers = []
