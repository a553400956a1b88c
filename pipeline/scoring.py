"""Scores of a task kind beyond the loss that every evaluation reports.

Extractive QA is scored as SQuAD v1.1 is: exact match and F1 (0-100) of the answer decoded from
the start/end logits over the context tokens, against every gold answer. Contexts are truncated,
not strided (`ExtractiveQAFormat`): an answer cut off with the end of a long context cannot be
predicted and counts as a miss; how many were cut is reported beside the scores. Classification
and multiple choice get accuracy and macro-F1 from the evaluation loop itself, generation its
BLEU / ROUGE-L from the evaluate stage.
"""

from __future__ import annotations

import torch

from pipeline.params import TaskConfig
from prefixes import metrics
from prefixes.data.example import Example
from prefixes.data.formats import ExtractiveQAFormat, collate

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def task_scores(task: TaskConfig, model, examples: list[Example], *, pad_id: int, batch_size: int) -> dict:
    """The task kind's own scores of ``model`` on ``examples`` (empty for kinds the loop scores)."""
    if task.format == "extractive_qa":
        return qa_scores(model, ExtractiveQAFormat(model.tokenizer, task.max_length), examples,
                         pad_id=pad_id, batch_size=batch_size)
    return {}


@torch.no_grad()
def qa_scores(model, fmt: ExtractiveQAFormat, examples: list[Example], *, pad_id: int, batch_size: int) -> dict:
    """SQuAD exact_match and f1 of the spans ``model`` picks, plus the count of answers truncation cut off."""
    features, report = fmt.encode(examples)
    start_logits, end_logits = span_logits(model, features, pad_id=pad_id, batch_size=batch_size)
    scores = metrics.squad_scores_from_logits(
        start_logits, end_logits, fmt.context_offsets(examples), [str(example.text_pair) for example in examples],
        [[text for text, _ in example.answers or ()] for example in examples],
    )
    return scores | {"answer_cut_off_examples": report.answers_lost}


def span_logits(model, features: list[dict], *, pad_id: int, batch_size: int) -> tuple[list[list[float]], list[list[float]]]:
    """Per feature, the start and end logits of its own tokens (virtual prompt tokens dropped)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    starts: list[list[float]] = []
    ends: list[list[float]] = []
    for first in range(0, len(features), batch_size):
        rows = [{key: row[key] for key in MODEL_INPUTS if key in row} for row in features[first : first + batch_size]]
        batch = {key: value.to(device) for key, value in collate(rows, pad_token_id=pad_id).items()}
        output = model(**batch)
        # Prompt tuning puts its virtual tokens first: the real tokens are the last `width` positions.
        width = batch["input_ids"].shape[1]
        starts += output.start_logits[:, -width:].float().cpu().tolist()
        ends += output.end_logits[:, -width:].float().cpu().tolist()
    model.train(was_training)
    return starts, ends
