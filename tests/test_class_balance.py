"""Class-balanced loss: the weights, the weighted cross-entropy, and a skewed task it un-collapses."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_model

from prefixes import PrefixConfig, PrefixTuningModel
from prefixes.class_balance import balanced_class_weights, training_class_weights, weighted_classification_loss
from prefixes.config import TrainingConfig
from prefixes.data import collate
from prefixes.train import PrefixTrainer


def test_weights_are_n_over_k_times_the_class_count():
    labels = [0] * 13 + [1] * 5 + [2] * 2
    expected = torch.tensor([20 / (3 * 13), 20 / (3 * 5), 20 / (3 * 2)], dtype=torch.float32)
    assert torch.equal(balanced_class_weights(labels, 3), expected)
    # Equal classes weigh 1 each; an absent class weighs 0 (it never enters the loss).
    assert torch.equal(balanced_class_weights([0, 1, 0, 1], 2), torch.tensor([1.0, 1.0]))
    assert torch.equal(balanced_class_weights([0, 0, 2, 2], 3), torch.tensor([4 / 6, 0.0, 4 / 6]))


def test_labels_outside_the_classes_are_refused_with_their_values():
    with pytest.raises(ValueError, match=r"labels in \[0, 2\); got \[2\]"):
        balanced_class_weights([0, 1, 2], 2)


def test_sqrt_balancing_takes_the_square_root_of_the_balanced_weights():
    rows = [{"labels": label} for label in [0] * 6 + [1] * 2 + [2]]  # n=9, k=3: balanced 0.5, 1.5, 3.0
    balanced = training_class_weights("balanced", rows, "text_classification", 3)
    milder = training_class_weights("balanced_sqrt", rows, "text_classification", 3)
    assert torch.equal(balanced, torch.tensor([0.5, 1.5, 3.0]))
    assert torch.allclose(milder, torch.tensor([0.5, 1.5, 3.0]).sqrt(), rtol=0, atol=1e-7)


def test_weighting_a_task_without_class_labels_says_how_to_turn_it_off():
    with pytest.raises(ValueError, match="task_type.*'text_generation'.*set class_weighting to 'none'"):
        training_class_weights("balanced", [{"labels": [1, 2]}], "text_generation", None)
    assert training_class_weights("none", [{"labels": 0}], "text_classification", 2) is None


def test_the_loss_is_the_weight_normalised_mean_of_the_examples_cross_entropy():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0], [-1.0, 3.0, 0.0], [0.0, 0.0, 1.0]])
    labels = torch.tensor([0, 0, 1, 2])
    weights = torch.tensor([0.5, 2.0, 4.0])
    per_example = -logits.log_softmax(-1)[torch.arange(4), labels]
    example_weights = weights[labels]
    expected = (per_example * example_weights).sum() / example_weights.sum()
    assert torch.allclose(weighted_classification_loss(logits, labels, weights), expected, rtol=1e-6, atol=0)


def _skewed_rows(count: int) -> list[dict]:
    """Four of five examples are class 0; a marker token tells the class."""
    generator = torch.Generator().manual_seed(1)
    rows = []
    for index in range(count):
        label = int(index % 5 == 0)
        ids = torch.randint(10, 90, (6,), generator=generator).tolist()
        ids[int(torch.randint(0, 6, (1,), generator=generator))] = 4 + label
        rows.append({"input_ids": ids, "attention_mask": [1] * 6, "labels": label})
    return rows


def _minority_predictions(class_weighting: str) -> tuple[int, float]:
    """After 10 steps on the skewed rows: how many are predicted minority, and its mean probability."""
    torch.manual_seed(0)
    model = PrefixTuningModel.from_model(
        tiny_model("bert"), PrefixConfig(prefix_length=4, reparameterization=False, prefix_dropout=0.0))
    rows = _skewed_rows(40)
    config = TrainingConfig(batch_size=8, learning_rate=3e-2, max_steps=10, warmup_ratio=0.0, seed=0,
                            class_weighting=class_weighting)
    PrefixTrainer(model, config).train(rows)
    model.eval()
    batch = collate(rows, pad_token_id=0)
    with torch.no_grad():
        probabilities = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.softmax(-1)
    return int((probabilities.argmax(-1) == 1).sum()), probabilities[:, 1].mean().item()


def test_balanced_weighting_stops_the_collapse_to_the_majority_class():
    unweighted_count, unweighted_probability = _minority_predictions("none")
    weighted_count, weighted_probability = _minority_predictions("balanced")
    assert unweighted_count == 0  # every example predicted as the majority class
    assert unweighted_probability < 0.3  # near the minority's 20% share
    assert weighted_count > 0
    assert weighted_probability > 0.35  # pulled towards the balanced 50%
