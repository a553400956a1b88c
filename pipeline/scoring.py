"""Scores of a task kind beyond those the evaluation loop reports.

The loop (`prefixes.evaluate.evaluate_model`) scores every kind: accuracy and macro-F1 for
classification and multiple choice, perplexity for generation, and SQuAD v1.1 exact match and F1
(0-100) for extractive QA, each answer the best span over the windows a long context is read in.
Extractive QA adds here how many examples no window held the whole answer of (an answer longer
than a window): they count as misses. Generation gets BLEU, chrF and ROUGE from the evaluate stage.
"""

from __future__ import annotations

from pipeline.params import TaskConfig
from pipeline.tasks import truncation_said_by_the_pipeline
from prefixes.data.example import Example
from prefixes.data.formats import ExtractiveQAFormat


def task_scores(task: TaskConfig, model, examples: list[Example]) -> dict:
    """The task kind's own counts on ``examples`` beside the loop's scores (empty for most kinds)."""
    if task.format == "extractive_qa":
        with truncation_said_by_the_pipeline():
            _, report = ExtractiveQAFormat(model.tokenizer, task.max_length).encode(examples)
        return {"answer_cut_off_examples": report.answers_lost}
    return {}
