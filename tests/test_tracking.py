"""Training reports through accelerate's trackers: DVCLive's metrics and plots hold every logged step
and the selected evaluation; a tracker whose package is missing is refused before any work."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
import torch
from conftest import tiny_model
from test_train import _classification_data

from prefixes import PrefixConfig, PrefixTuningModel
from prefixes.config import TrainingConfig
from prefixes.train import PrefixTrainer

CONFIG = dict(batch_size=4, eval_batch_size=8, learning_rate=1e-2, log_every=1, seed=7, num_epochs=2,
              metric_for_best="eval_accuracy")


def _train(root, resume: bool = False, **overrides):
    torch.manual_seed(0)
    model = PrefixTuningModel.from_model(tiny_model("bert"), PrefixConfig(prefix_length=4, reparameterization=False))
    trainer = PrefixTrainer(model, TrainingConfig(**{**CONFIG, **overrides}), log_dir=root, checkpoint_dir=root / "checkpoint")
    return trainer, trainer.train(_classification_data(16, seed=1), _classification_data(8, seed=2),
                                  resume_from=root / "checkpoint" if resume else None)


def _tsv(path) -> list[dict]:
    with path.open() as file:
        return list(csv.DictReader(file, delimiter="\t"))


def test_dvclive_writes_every_step_loss_and_the_best_evaluation(tmp_path):
    _, result = _train(tmp_path, report_to=["dvclive"])
    live = tmp_path / "dvclive"
    losses = _tsv(live / "plots" / "metrics" / "train" / "loss.tsv")
    assert [int(row["step"]) for row in losses] == [1, 2, 3, 4, 5, 6, 7, 8]  # 16 examples / 4, two epochs
    assert [float(row["loss"]) for row in losses] == pytest.approx([row["loss"] for row in result.history["train"]])
    accuracy = _tsv(live / "plots" / "metrics" / "eval" / "accuracy.tsv")
    assert [int(row["step"]) for row in accuracy] == [4, 8]
    summary = json.loads((live / "metrics.json").read_text())
    assert summary["best"]["accuracy"] == pytest.approx(result.best_metrics["eval_accuracy"])
    assert summary["best"]["step"] == result.best_step
    assert summary["step"] == 8
    assert not (live / "dvc.yaml").exists() and not (live / "params.yaml").exists()  # the pipeline's dvc.yaml declares these


def test_no_tracker_by_default_and_none_writes_nothing(tmp_path):
    assert TrainingConfig().report_to == []
    trainer, _ = _train(tmp_path, report_to="none")
    assert trainer.accelerator.log_with == [] and not (tmp_path / "dvclive").exists()


def test_resumed_run_logs_the_steps_before_its_checkpoint_too(tmp_path):
    _train(tmp_path / "straight", report_to=["dvclive"], checkpoint_every=6)  # the last checkpoint: step 6 of 8
    resumed = tmp_path / "resumed"
    shutil.copytree(tmp_path / "straight" / "checkpoint", resumed / "checkpoint")
    _train(resumed, report_to=["dvclive"], resume=True)
    curve = "dvclive/plots/metrics/train/loss.tsv"
    assert len(_tsv(resumed / curve)) == 8
    assert _tsv(resumed / curve) == _tsv(tmp_path / "straight" / curve)


def test_unknown_tracker_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="report_to.0\n.*Input should be 'dvclive', 'tensorboard'"):
        TrainingConfig(report_to=["neptune"])


def test_missing_tracker_package_is_refused_with_the_pip_command(monkeypatch):
    monkeypatch.setattr("prefixes.tracking._installed", lambda module: module != "mlflow")
    with pytest.raises(ValueError, match=r"\['mlflow'\] needs a package that is not installed: run `pip install mlflow`"):
        TrainingConfig(report_to=["dvclive", "mlflow"])
