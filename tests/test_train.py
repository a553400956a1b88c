"""The training loop: falling loss, exact resume, determinism, best-checkpoint selection."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from conftest import tiny_model

from prefixes import PrefixConfig, PrefixTuningModel, PromptConfig, PromptTuningModel
from prefixes.config import TrainingConfig
from prefixes.data import collate
from prefixes.train import PrefixTrainer, PromptTrainer


def _classification_data(count: int, seed: int) -> list[dict]:
    """Token sequences whose label is decided by which marker token they contain."""
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for index in range(count):
        label = index % 3
        ids = torch.randint(10, 90, (6,), generator=generator).tolist()
        ids[int(torch.randint(0, 6, (1,), generator=generator))] = 4 + label
        rows.append({"input_ids": ids, "attention_mask": [1] * 6, "labels": label})
    return rows


def _bert_model(seed: int = 0):
    torch.manual_seed(seed)
    return PrefixTuningModel.from_model(
        tiny_model("bert"), PrefixConfig(prefix_length=4, reparameterization=False, prefix_dropout=0.1)
    )


def _folders(root):
    """A run's folders, as the pipeline lays them out."""
    return {"best_dir": root / "best", "checkpoint_dir": root / "checkpoint", "log_dir": root}


CONFIG = dict(batch_size=4, eval_batch_size=8, learning_rate=1e-2, log_every=1, seed=7)


def test_p_tuning_v2_learns_and_keeps_the_best_evaluation(tmp_path):
    model = _bert_model()
    trainer = PrefixTrainer(model, TrainingConfig(**CONFIG, num_epochs=4, metric_for_best="eval_accuracy"), **_folders(tmp_path))
    result = trainer.train(_classification_data(48, seed=1), _classification_data(24, seed=2))
    losses = [row["loss"] for row in result.history["train"]]
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4
    evaluations = result.history["eval"]
    assert len(evaluations) == 4
    best = max(evaluations, key=lambda row: row["eval_accuracy"])
    assert result.best_metrics["eval_accuracy"] == best["eval_accuracy"]
    assert (tmp_path / "best" / "prefix.safetensors").exists()
    assert [row["step"] for row in result.history["train"]] == list(range(1, 49))  # every step (log_every=1)


def test_resume_gives_identical_losses_and_parameters(tmp_path):
    data = _classification_data(40, seed=1)
    straight = _bert_model()
    straight_result = PrefixTrainer(straight, TrainingConfig(**CONFIG, max_steps=4, warmup_ratio=0.25)).train(data)

    class Interrupted(Exception):
        pass

    calls = {"count": 0}

    def collate_then_crash(features):
        # The loader fetches one batch ahead, so the 4th fetch happens during step 3: after the
        # step-2 checkpoint, before step 3 ends.
        calls["count"] += 1
        if calls["count"] == 4:
            raise Interrupted
        return collate(features, pad_token_id=0)

    config = TrainingConfig(**CONFIG, max_steps=4, warmup_ratio=0.25, checkpoint_every=2)
    with pytest.raises(Interrupted):
        PrefixTrainer(_bert_model(), config, **_folders(tmp_path), collate_fn=collate_then_crash).train(data)
    resumed = _bert_model(seed=123)  # different initial weights: everything must come from the checkpoint
    resumed_result = PrefixTrainer(resumed, config, **_folders(tmp_path)).train(data, resume_from=tmp_path / "checkpoint")

    assert [r["loss"] for r in resumed_result.history["train"]] == [r["loss"] for r in straight_result.history["train"]]
    for (name, a), (_, b) in zip(straight.named_parameters(), resumed.named_parameters()):
        assert torch.equal(a, b), name


def test_same_seed_twice_gives_identical_metrics(tmp_path):
    runs = []
    for attempt in range(2):
        model = _bert_model()
        trainer = PrefixTrainer(model, TrainingConfig(**CONFIG, num_epochs=2), **_folders(tmp_path / str(attempt)))
        runs.append(trainer.train(_classification_data(24, seed=1), _classification_data(12, seed=2)).history["eval"])
    assert runs[0] == runs[1]


def test_prompt_trainer_lowers_causal_lm_loss():
    torch.manual_seed(0)
    model = PromptTuningModel.from_model(tiny_model("llama"), PromptConfig(num_virtual_tokens=4))
    sequence = list(range(10, 22))
    data = [{"input_ids": sequence, "attention_mask": [1] * 12, "labels": sequence} for _ in range(16)]
    result = PromptTrainer(model, TrainingConfig(batch_size=4, max_steps=30, warmup_ratio=0.0, log_every=1, seed=0)).train(
        data, data[:4]
    )
    losses = [row["loss"] for row in result.history["train"]]
    assert losses[-1] < losses[0] - 0.05
    assert result.best_metrics["eval_perplexity"] == pytest.approx(2.718281828 ** result.best_metrics["eval_loss"])



class Interrupted(Exception):
    """Stands for a kill: raised from inside the loop, nothing after it runs."""


def _crash_on_fetch(count: int, train_rows: list[dict]):
    """A collate function that fails on its ``count``-th training batch (the loader fetches one batch ahead)."""
    calls = {"count": 0}

    def collate_then_crash(features):
        calls["count"] += features[0] in train_rows
        if calls["count"] == count:
            raise Interrupted
        return collate(features, pad_token_id=0)

    return collate_then_crash


def test_resume_after_the_best_evaluation_saves_the_same_best(tmp_path):
    data, eval_data = _classification_data(40, seed=1), _classification_data(12, seed=2)
    # A learning rate this large makes the first evaluation the best one; the kill comes later.
    config = TrainingConfig(**{**CONFIG, "learning_rate": 0.5}, max_steps=6, eval_every=1, checkpoint_every=3,
                            metric_for_best="eval_accuracy")
    straight = PrefixTrainer(_bert_model(), config, **_folders(tmp_path / "straight")).train(data, eval_data)
    assert straight.best_step < 3, "the test needs a best evaluation before the checkpoint"

    with pytest.raises(Interrupted):  # fails during step 4: after the step-3 checkpoint
        crashing = PrefixTrainer(_bert_model(), config, **_folders(tmp_path / "killed"), collate_fn=_crash_on_fetch(5, data))
        crashing.train(data, eval_data)
    resumed = PrefixTrainer(_bert_model(seed=123), config, **_folders(tmp_path / "killed")).train(
        data, eval_data, resume_from=tmp_path / "killed" / "checkpoint")

    assert (resumed.best_step, resumed.best_metrics) == (straight.best_step, straight.best_metrics)
    for name in ("prefix.safetensors", "prefix_config.json"):
        assert (tmp_path / "killed" / "best" / name).read_bytes() == (tmp_path / "straight" / "best" / name).read_bytes()


def test_a_kill_while_replacing_the_checkpoint_leaves_one_to_resume_from(tmp_path, monkeypatch):
    data = _classification_data(40, seed=1)
    config = TrainingConfig(**CONFIG, max_steps=6, warmup_ratio=0.25, checkpoint_every=2)
    straight = _bert_model()
    straight_result = PrefixTrainer(straight, config, **_folders(tmp_path / "straight")).train(data)

    rename, swaps = os.rename, {"count": 0}

    def killed_in_the_second_swap(source, target):
        swaps["count"] += Path(source).name == ".checkpoint.partial"
        if swaps["count"] == 2:  # step 4: the step-2 checkpoint already moved aside, the new one not yet in
            raise Interrupted
        rename(source, target)

    monkeypatch.setattr(os, "rename", killed_in_the_second_swap)
    with pytest.raises(Interrupted):
        PrefixTrainer(_bert_model(), config, **_folders(tmp_path)).train(data)
    monkeypatch.setattr(os, "rename", rename)
    assert not (tmp_path / "checkpoint").exists() and (tmp_path / ".checkpoint.old" / "progress.json").exists()
    assert json.loads((tmp_path / ".checkpoint.partial" / "progress.json").read_text())["step"] == 4

    resumed = _bert_model(seed=123)
    result = PrefixTrainer(resumed, config, **_folders(tmp_path)).train(data, resume_from=tmp_path / "checkpoint")
    assert [r["loss"] for r in result.history["train"]] == [r["loss"] for r in straight_result.history["train"]]
    for (name, a), (_, b) in zip(straight.named_parameters(), resumed.named_parameters()):
        assert torch.equal(a, b), name
    assert json.loads((tmp_path / "checkpoint" / "progress.json").read_text())["step"] == 6
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(".")) == []


def test_resuming_without_a_complete_checkpoint_says_how_to_start_fresh(tmp_path):
    (tmp_path / ".checkpoint.partial").mkdir()  # killed before its progress.json was written
    trainer = PrefixTrainer(_bert_model(), TrainingConfig(**CONFIG, max_steps=2), **_folders(tmp_path))
    with pytest.raises(FileNotFoundError, match="no complete checkpoint.*start fresh"):
        trainer.train(_classification_data(8, seed=1), resume_from=tmp_path / "checkpoint")
