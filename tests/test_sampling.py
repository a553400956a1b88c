"""Length-grouped epoch order: every example once, less padding, seeded, shardable, exactly resumable."""

from __future__ import annotations

import pytest
import torch
from accelerate.data_loader import prepare_data_loader
from conftest import tiny_model

from prefixes import PrefixConfig, PrefixTuningModel
from prefixes.config import TrainingConfig
from prefixes.data import collate
from prefixes.sampling import epoch_loader, example_length, length_grouped_order
from prefixes.train import PrefixTrainer


def _lengths(count: int, seed: int = 0, longest: int = 64) -> list[int]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(1, longest + 1, (count,), generator=generator).tolist()


def _order(lengths, batch_size=8, seed=3, mega_batch_batches=5):
    return length_grouped_order(lengths, batch_size, torch.Generator().manual_seed(seed), mega_batch_batches)


def _padding(order: list[int], lengths: list[int], batch_size: int) -> int:
    """Pad tokens when the order is cut into consecutive batches, each padded to its longest."""
    batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    return sum(max(lengths[i] for i in batch) * len(batch) - sum(lengths[i] for i in batch) for batch in batches)


def test_every_example_comes_once_and_only_the_last_batch_is_short():
    lengths = _lengths(203)  # 25 full batches of 8 and one of 3, over 6 mega-batches of 5 batches
    order = _order(lengths)
    assert sorted(order) == list(range(203))
    batches = [order[start:start + 8] for start in range(0, 203, 8)]
    assert [len(batch) for batch in batches] == [8] * 25 + [3]
    # Each batch was cut from one sorted mega-batch: its lengths fall, longest first.
    for batch in batches:
        assert [lengths[i] for i in batch] == sorted((lengths[i] for i in batch), reverse=True)


def test_grouped_batches_pad_far_less_than_shuffled_ones():
    lengths = _lengths(400)
    shuffled = torch.randperm(400, generator=torch.Generator().manual_seed(3)).tolist()
    grouped = _order(lengths)
    assert _padding(grouped, lengths, 8) * 4 < _padding(shuffled, lengths, 8)


def test_the_order_is_a_function_of_the_seed():
    lengths = _lengths(100)
    assert _order(lengths, seed=11) == _order(lengths, seed=11)
    assert _order(lengths, seed=11) != _order(lengths, seed=12)


def test_bad_batch_size_is_refused_with_the_value():
    with pytest.raises(ValueError, match="batch_size=0"):
        _order(_lengths(10), batch_size=0)


def test_example_length_of_multiple_choice_is_its_longest_choice():
    assert example_length({"input_ids": [[1, 2], [1, 2, 3, 4], [5]]}) == 4
    assert example_length({"input_ids": [7, 8, 9]}) == 3


def _rows(lengths: list[int]) -> list[dict]:
    return [{"input_ids": [4 + index % 80] * length, "attention_mask": [1] * length, "labels": index % 3}
            for index, length in enumerate(lengths)]


def _ids(loader) -> list[list[list[int]]]:
    return [[row["input_ids"] for row in batch] for batch in loader]


def test_two_processes_of_batch_4_see_the_steps_of_one_process_of_batch_8():
    lengths = _lengths(64)
    rows = _rows(lengths)
    single = _ids(epoch_loader(rows, batch_size=8, seed=5, epoch=1, collate_fn=list, lengths=lengths))
    loader = epoch_loader(rows, batch_size=4, seed=5, epoch=1, collate_fn=list, lengths=lengths, processes=2)
    shards = [_ids(prepare_data_loader(loader, num_processes=2, process_index=index, put_on_device=False))
              for index in range(2)]
    # accelerate deals whole batches in turn: step i is batch 2i on process 0 and 2i + 1 on process 1.
    assert shards[0] == [batch[:4] for batch in single] and shards[1] == [batch[4:] for batch in single]
    seen = sorted(tuple(ids) for shard in shards for batch in shard for ids in batch)
    assert seen == sorted(tuple(row["input_ids"]) for row in rows)


def _model(seed: int = 0):
    torch.manual_seed(seed)
    return PrefixTuningModel.from_model(
        tiny_model("bert"), PrefixConfig(prefix_length=4, reparameterization=False, prefix_dropout=0.1))


def test_grouped_training_resumes_to_the_same_losses_and_parameters(tmp_path):
    rows = _rows(_lengths(40, seed=2, longest=12))
    config = TrainingConfig(batch_size=4, learning_rate=1e-2, log_every=1, seed=7, max_steps=4, warmup_ratio=0.25,
                            checkpoint_every=2, group_by_length=True)
    widths: list[list[int]] = []

    def recording_collate(features):
        widths.append([len(feature["input_ids"]) for feature in features])
        return collate(features, pad_token_id=0)

    straight = _model()
    straight_result = PrefixTrainer(straight, config, collate_fn=recording_collate).train(rows)
    assert all(batch == sorted(batch, reverse=True) for batch in widths)  # the batches were grouped
    fetches = {"count": 0}
    folders = {"checkpoint_dir": tmp_path / "checkpoint"}  # the checkpoint keeps the steps logged before the crash

    class Interrupted(Exception):
        pass

    def collate_then_crash(features):
        fetches["count"] += 1
        if fetches["count"] == 4:  # the loader fetches one ahead: during step 3, after the step-2 checkpoint
            raise Interrupted
        return collate(features, pad_token_id=0)

    with pytest.raises(Interrupted):
        PrefixTrainer(_model(), config, **folders, collate_fn=collate_then_crash).train(rows)
    resumed = _model(seed=123)  # other initial weights: everything must come from the checkpoint
    resumed_result = PrefixTrainer(resumed, config, **folders).train(
        rows, resume_from=tmp_path / "checkpoint")
    assert [r["loss"] for r in resumed_result.history["train"]] == [r["loss"] for r in straight_result.history["train"]]
    for (name, a), (_, b) in zip(straight.named_parameters(), resumed.named_parameters(), strict=True):
        assert torch.equal(a, b), name
