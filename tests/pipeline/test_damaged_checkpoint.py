"""A damaged checkpoint stops a train stage with one line naming the file and how to start fresh
(issue 28 item 10): it used to end in a traceback on every rerun, and `step: 999` finished with exit 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from conftest import tiny_model

from pipeline import train as train_module
from pipeline.train import _resume_point, train_prefix
from prefixes import PrefixConfig, PrefixTuningModel
from prefixes.checkpoint import CheckpointError
from prefixes.config import TrainingConfig
from prefixes.train import PrefixTrainer

CONFIG = TrainingConfig(batch_size=4, learning_rate=1e-2, log_every=1, seed=7, max_steps=2, checkpoint_every=2)


def _model():
    torch.manual_seed(0)
    return PrefixTuningModel.from_model(tiny_model("bert"), PrefixConfig(prefix_length=4, reparameterization=False))


def _data() -> list[dict]:
    return [{"input_ids": [10 + i, 20 + i, 4 + i % 3], "attention_mask": [1, 1, 1], "labels": i % 3} for i in range(8)]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _progress(**changes):
    def damage(path: Path) -> None:
        path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))
    return damage


@pytest.mark.parametrize(("file", "damage", "problem"), [
    ("optimizer.safetensors", _truncate, "SafetensorError"),
    ("optimizer.json", _truncate, "JSONDecodeError"),
    ("progress.json", lambda path: path.write_text("[]"), "holds [], not the loop's position (a JSON object)"),
    ("progress.json", _progress(step=999), "step 999 is beyond this run's 2 steps"),
    ("progress.json", _progress(step="2"), "step is '2'; expected int"),
    ("scheduler.json", lambda path: path.write_text("{}"), "KeyError"),
    ("rng_0.safetensors", _truncate, "SafetensorError"),
    ("best.json", lambda path: path.write_text("null"), "not the best evaluation's metrics"),
    ("model", lambda path: _truncate(next(path.glob("*.safetensors"))), "damaged checkpoint file"),
])
def test_a_damaged_checkpoint_names_its_file(tmp_path, file, damage, problem):
    checkpoint = tmp_path / "checkpoint"
    PrefixTrainer(_model(), CONFIG, checkpoint_dir=checkpoint).train(_data())
    damage(checkpoint / file)
    with pytest.raises(CheckpointError) as caught:
        PrefixTrainer(_model(), CONFIG, checkpoint_dir=checkpoint).train(_data(), resume_from=checkpoint)
    assert caught.value.path == checkpoint / file
    message = str(caught.value)
    assert message.startswith(f"damaged checkpoint file {checkpoint / file}: ") and problem in message
    assert "\n" not in message


def test_a_damaged_run_identity_is_reported_and_fresh_deletes_the_checkpoint(tmp_path, capsys):
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "progress.json").write_text("{}")
    (checkpoint / "run.json").write_text("[1")
    with pytest.raises(CheckpointError, match=r"run.json: JSONDecodeError"):
        _resume_point(checkpoint, {"method": "prefix"})
    (tmp_path / ".checkpoint.partial").mkdir()
    assert _resume_point(checkpoint, {"method": "prefix"}, fresh=True) is None
    assert not checkpoint.exists() and not (tmp_path / ".checkpoint.partial").exists()
    assert "Starting fresh (--fresh)" in capsys.readouterr().err


def test_the_train_stage_says_which_file_and_how_to_start_fresh(tmp_path, monkeypatch):
    def damaged(*args, fresh, **kwargs):
        assert not fresh
        raise CheckpointError(Path("run/checkpoint/progress.json"), "holds [], not the loop's position (a JSON object)")

    monkeypatch.setattr(train_module, "train_run", damaged)
    (tmp_path / "prepared").mkdir()
    result = CliRunner().invoke(train_prefix, ["--params", str(Path(__file__).parents[2] / "params.yaml"),
                                               "--task", "bbc_news", "--method", "prefix",
                                               "--data", str(tmp_path / "prepared"), "--out", "run"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: damaged checkpoint file run/checkpoint/progress.json: holds [], not the loop's position (a JSON "
        "object); start fresh with `prefixes train-prefix --task bbc_news --method prefix ... --fresh`, or delete "
        "run/checkpoint"]
