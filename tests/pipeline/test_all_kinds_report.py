"""The committed all-kinds-profile report (reports/all_kinds/) covers every task of params-all-kinds.yaml, each
run scored by its task kind's own headline, with the reference rows beside them."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.params import load_params

ROOT = Path(__file__).parents[2]
HEADLINES = {"classification": {"accuracy", "macro_f1"}, "multiple_choice": {"accuracy", "macro_f1"},
             "extractive_qa": {"exact_match", "f1"}, "causal_generation": {"perplexity", "bleu", "rouge_l"}}


def test_the_all_kinds_report_holds_every_task_kind_with_its_headline():
    params = load_params(ROOT / "params-all-kinds.yaml")
    report = json.loads((ROOT / "reports" / "all_kinds" / "compare.json").read_text())
    kinds = set()
    for task in params.task_names:
        kind = params.tasks[task].format
        kinds.add(kind)
        for method in params.evaluated_methods:
            assert HEADLINES[kind] <= set(report[f"{task}/{method}"]), (task, method)
        if kind == "causal_generation":
            assert report[f"{task}/untuned"]["perplexity"] > 0
        elif kind != "extractive_qa":
            assert 0 < report[f"{task}/majority"]["accuracy"] < 1
    assert kinds == set(HEADLINES)
    assert all(isinstance(value, float | int) for row in report.values() for value in row.values())
    assert (ROOT / "reports" / "all_kinds" / "compare.png").stat().st_size > 10_000
