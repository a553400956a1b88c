"""Evaluation of an adapted model on a prepared dataset: loss plus the task's metrics.

Per-example quantities are gathered across processes with ``gather_for_metrics`` (which drops the
samples a distributed sampler duplicates to even out shards), so 1 and N processes agree.
"""

from __future__ import annotations

import math

import torch
from accelerate import Accelerator
from torch.nn import functional as F

from prefixes import metrics
from prefixes.data.qa import QAWindows

# One label per example, scored from (B, classes) logits: a multiple-choice head scores (B, choices).
LABEL_TASK_TYPES = ("text_classification", "multiple_choice")


def _per_example_loss(output, batch, task_type: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed loss and the number of loss terms, per example."""
    if task_type == "question_answering":
        loss = (
            F.cross_entropy(output.start_logits, batch["start_positions"], reduction="none")
            + F.cross_entropy(output.end_logits, batch["end_positions"], reduction="none")
        ) / 2
        return loss, torch.ones_like(loss)
    labels = batch["labels"]
    if task_type in LABEL_TASK_TYPES:
        return F.cross_entropy(output.logits, labels, reduction="none"), torch.ones_like(labels, dtype=torch.float)
    # Token-level tasks. Prompt tuning returns logits for the virtual tokens too: keep the real ones.
    logits = output.logits[:, -labels.shape[1]:]
    if task_type == "text_generation":  # causal LM: position t predicts token t + 1
        logits, labels = logits[:, :-1], labels[:, 1:]
    nll = F.cross_entropy(logits.transpose(1, 2).float(), labels, ignore_index=-100, reduction="none")
    return nll.sum(-1), (labels != -100).sum(-1).float()


@torch.no_grad()
def evaluate_model(model, loader, accelerator: Accelerator, task_type: str, num_labels: int | None = None) -> dict[str, float]:
    """``eval_loss`` for every task; accuracy and macro-F1 for classification and multiple choice
    (over answer positions); perplexity for generation; SQuAD exact match and F1 for extractive QA
    when the loader's dataset carries its windows (``prefixes.data.qa.QAFeatures``)."""
    was_training = model.training
    model.eval()
    windows = getattr(loader.dataset, "windows", None) if task_type == "question_answering" else None
    losses, counts, predictions, references, spans = [], [], [], [], []
    for batch in loader:
        output = model(**batch)
        loss, count = _per_example_loss(output, batch, task_type)
        if task_type in LABEL_TASK_TYPES:
            gathered = accelerator.gather_for_metrics((loss, count, output.logits.argmax(-1), batch["labels"]))
            predictions.append(gathered[2].cpu())
            references.append(gathered[3].cpu())
        elif windows is not None:
            gathered = accelerator.gather_for_metrics((loss, count, _span_logits(output, batch, accelerator)))
            spans += gathered[2].cpu().tolist()
        else:
            gathered = accelerator.gather_for_metrics((loss, count))
        losses.append(gathered[0].cpu())
        counts.append(gathered[1].cpu())
    model.train(was_training)
    total_loss, total_count = torch.cat(losses).double().sum().item(), torch.cat(counts).double().sum().item()
    results = {"eval_loss": total_loss / total_count, "eval_examples": sum(len(c) for c in counts)}
    if task_type in LABEL_TASK_TYPES:
        predicted, expected = torch.cat(predictions).tolist(), torch.cat(references).tolist()
        results["eval_accuracy"] = metrics.accuracy(predicted, expected)
        results["eval_macro_f1"] = metrics.macro_f1(predicted, expected, num_labels=num_labels)
    if windows is not None:
        scores = window_scores(windows, [row[0] for row in spans], [row[1] for row in spans])
        results |= {f"eval_{name}": value for name, value in scores.items()}
        # A long context is several windows: the loss averages over windows, the count is of examples.
        results |= {"eval_examples": len(windows.contexts), "eval_windows": len(windows.example)}
    if task_type in ("text_generation", "seq2seq_generation"):
        results["eval_perplexity"] = math.exp(results["eval_loss"])
        results["eval_tokens"] = int(total_count)
    return results


def _span_logits(output, batch, accelerator: Accelerator) -> torch.Tensor:
    """(B, 2, T) start and end logits of the real tokens, padded to the widest batch of any process."""
    width = batch["input_ids"].shape[1]  # prompt tuning puts its virtual tokens first
    logits = torch.stack([output.start_logits[:, -width:], output.end_logits[:, -width:]], dim=1).float()
    return accelerator.pad_across_processes(logits, dim=2)


def window_scores(windows: QAWindows, start_logits: list[list[float]], end_logits: list[list[float]]) -> dict[str, float]:
    """SQuAD exact_match and f1 (0-100) of the best span over each example's windows, over the
    examples that have gold answers; {} when none has."""
    answered = [index for index, golds in enumerate(windows.answers) if golds]
    if not answered:
        return {}
    predictions = metrics.decode_answers(start_logits, end_logits, windows.offsets, windows.example, windows.contexts)
    return metrics.squad_scores([predictions[i] for i in answered], [windows.answers[i] for i in answered])
