"""The compare table: each run's headline metric as a fraction of full fine-tuning's, and reference flags."""

from __future__ import annotations

import pytest

from pipeline.compare import fraction_of_full, markdown_table


def _run(task: str, method: str, metric: str, value: float, percent: float, **extra) -> dict:
    return {"task": task, "method": method, "metric": metric, "value": value, "trainable_parameters": int(percent * 10),
            "trainable_percent": percent, "artifact_bytes": 1000, "wall_time_s": 10.0, "peak_memory_mb": 512.0, **extra}


ROWS = [
    _run("topics", "prefix", "accuracy", 0.855, 5.0, macro_f1=0.8),
    _run("topics", "full_finetune", "accuracy", 0.9, 100.0, macro_f1=0.88),
    {"task": "topics", "method": "majority", "metric": "accuracy", "value": 0.25, "macro_f1": 0.08},
    _run("chat", "prompt", "perplexity", 60.0, 0.01),
    _run("chat", "full_finetune", "perplexity", 48.0, 100.0),
]


def test_fraction_of_full_finetuning_for_higher_and_lower_is_better():
    assert fraction_of_full(ROWS[0], ROWS[1]) == pytest.approx(0.95)
    assert fraction_of_full(ROWS[3], ROWS[4]) == pytest.approx(0.8)  # perplexity: full's / the run's
    assert fraction_of_full(ROWS[1], ROWS[1]) is None and fraction_of_full(ROWS[2], ROWS[1]) is None
    assert fraction_of_full(ROWS[0], None) is None


def test_the_table_shows_the_fraction_and_leaves_it_empty_where_there_is_no_full_run():
    lines = markdown_table(ROWS).splitlines()
    assert "of full FT" in lines[0]
    prefix_row = next(line for line in lines if "| prefix |" in line)
    assert "| accuracy 0.855 | 95.0% |" in prefix_row
    assert "| perplexity 60 | 80.0% |" in next(line for line in lines if "| prompt |" in line)
    assert "| accuracy 0.9 |  |" in next(line for line in lines if "| full_finetune |" in line and "topics" in line)
    without_full = markdown_table([ROWS[0], ROWS[2]])
    assert "| accuracy 0.855 |  |" in without_full
