"""Class-balanced classification loss: each class weighs inversely to its share of the training split.

With skewed labels (one class holding most examples) an unweighted loss is minimised early by
predicting the majority class everywhere; weighting each class by ``n / (k * count_c)`` gives every
class the same total weight, as scikit-learn's ``class_weight="balanced"`` does. The loss is
computed from the model's logits, so it applies to every method alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral

import torch
from torch.nn import functional

BALANCED_TASK_TYPES = ("text_classification",)
"""Task types whose model gives one row of class logits per example and one class label per example."""


def balanced_class_weights(labels: Iterable[int], num_labels: int) -> torch.Tensor:
    """``n / (k * count_c)`` per class c, for n labels over k = ``num_labels`` classes.

    A class absent from the labels gets weight 0: no example carries it, so its weight never
    enters the loss (a weighted mean over the examples' own classes).
    """
    labels = list(labels)
    wrong = [label for label in labels if not isinstance(label, Integral) or not 0 <= label < num_labels]
    if wrong:
        raise ValueError(f"class weights need integer labels in [0, {num_labels}); got {wrong[:5]}: "
                         "check the task's labels against num_labels")
    if not labels:
        raise ValueError("class weights need at least one labelled training example")
    counts = [0] * num_labels
    for label in labels:
        counts[int(label)] += 1
    total = len(labels)
    return torch.tensor([total / (num_labels * count) if count else 0.0 for count in counts], dtype=torch.float32)


def training_class_weights(class_weighting: str, dataset, task_type: str, num_labels: int | None) -> torch.Tensor | None:
    """The loss weights ``TrainingConfig.class_weighting`` asks for over this training split; None when off."""
    if class_weighting == "none":
        return None
    if task_type not in BALANCED_TASK_TYPES or num_labels is None or num_labels < 2:
        raise ValueError(f"class_weighting={class_weighting!r} needs a classification task with at least 2 labels "
                         f"(task_type in {BALANCED_TASK_TYPES}); this model is {task_type!r} with num_labels="
                         f"{num_labels}: set class_weighting to 'none'")
    weights = balanced_class_weights((dataset[index]["labels"] for index in range(len(dataset))), num_labels)
    # The square root halves the weights' spread on a log scale: minority classes still count more,
    # but the loss gives up less accuracy on the majority class than full balancing does.
    return weights.sqrt() if class_weighting == "balanced_sqrt" else weights


def weighted_classification_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of (batch, classes) logits, each example weighted by its class's weight
    and the sum divided by the batch's total weight."""
    return functional.cross_entropy(logits.float(), labels, weight=weights.to(logits.device))
