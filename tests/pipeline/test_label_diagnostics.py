"""Messy labels no longer pass silently (issue 24 item 4): prepare prints class counts per split, warns
about labels that differ only by case or surrounding whitespace and about classes with fewer than 2
training examples; `normalize_labels: true` merges the variants. A base model that fails to load
online names its `models` key (issue 24 item 5)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.labels import class_count_lines, label_warnings, normalize_labels
from prefixes.data.example import Example

REPO = Path(__file__).resolve().parents[2]


def _examples(labels: list[str]) -> list[Example]:
    return [Example(text=f"message {index}", label=label) for index, label in enumerate(labels)]


def test_label_variants_and_rare_classes_are_warned_about_by_name():
    splits = {"train": _examples([" billing"] * 3 + ["Billing"] * 2 + ["billing", "refund", "shipping", "shipping"]),
              "eval": _examples(["billing", "lost"]), "test": _examples(["shipping"])}
    assert label_warnings("support", splits) == [
        "tasks.support: labels ' billing', 'Billing', 'billing' differ only by case or surrounding whitespace and are "
        "3 classes: clean the data, or set tasks.support.normalize_labels: true to merge them",
        "tasks.support: classes 'billing' (1), 'lost' (0), 'refund' (1) have fewer than 2 training examples, too few "
        "to learn: add examples, or merge it into another class",
    ]
    assert class_count_lines("support", splits) == [
        "support train: 9 examples; ' billing' 3, 'Billing' 2, 'billing' 1, 'refund' 1, 'shipping' 2",
        "support eval: 2 examples; 'billing' 1, 'lost' 1",
        "support test: 1 examples; 'shipping' 1",
    ]


def test_normalising_strips_and_case_folds_labels_into_one_class():
    merged = normalize_labels(_examples([" billing", "Billing", "BILLING\t", "Straße"]) + [Example(text="x")])
    assert [example.label for example in merged] == ["billing", "billing", "billing", "strasse", None]
    assert [example.text for example in merged][:2] == ["message 0", "message 1"]
    splits = {"train": normalize_labels(_examples([" billing", "Billing", "refund", "refund"])), "eval": [], "test": []}
    assert label_warnings("support", splits) == []


def _support_project(tmp_path: Path, monkeypatch, **task) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["tasks"]["support"] = {"source": "data/raw/support.csv", "format": "classification", "model": "minilm",
                                  "columns": {"label": "queue"}, **task}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    queues = [" billing", "Billing", "billing", "shipping"] * 15 + ["refund"]
    rows = "".join(f"ticket number {index} about my order,{queue}\n" for index, queue in enumerate(queues))
    (tmp_path / "data" / "raw").mkdir(parents=True)
    (tmp_path / "data" / "raw" / "support.csv").write_text("text,queue\n" + rows)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_prepare_prints_class_counts_and_warns_about_messy_labels(tmp_path, monkeypatch):
    project = _support_project(tmp_path, monkeypatch)
    result = CliRunner().invoke(main, ["prepare", "--task", "support", "--out", "prepared"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1:4] == ["support train: 43 examples; ' billing' 10, 'Billing' 10, 'billing' 11, 'refund' 1, 'shipping' 11",
                          "support eval: 6 examples; ' billing' 2, 'Billing' 2, 'billing' 1, 'shipping' 1",
                          "support test: 12 examples; ' billing' 3, 'Billing' 3, 'billing' 3, 'shipping' 3"]
    assert ("tasks.support: labels ' billing', 'Billing', 'billing' differ only by case or surrounding whitespace "
            "and are 3 classes") in result.output
    assert "tasks.support: class 'refund' (1) has fewer than 2 training examples" in result.output
    assert json.loads((project / "prepared" / "data.json").read_text())["label_names"] == [
        " billing", "Billing", "billing", "refund", "shipping"]


def test_normalize_labels_merges_the_variants_before_splitting(tmp_path, monkeypatch):
    project = _support_project(tmp_path, monkeypatch, normalize_labels=True)
    result = CliRunner().invoke(main, ["prepare", "--task", "support", "--out", "prepared"])
    assert result.exit_code == 0, result.output
    assert "differ only by case" not in result.output
    summary = json.loads((project / "prepared" / "data.json").read_text())
    assert summary["label_names"] == ["billing", "refund", "shipping"]
    train = [json.loads(line)["label"] for line in (project / "prepared" / "train.jsonl").read_text().splitlines()]
    assert (train.count("billing"), train.count("shipping"), train.count("refund")) == (31, 11, 1)
    assert "support train: 43 examples; 'billing' 31, 'refund' 1, 'shipping' 11" in result.output.splitlines()


def test_an_online_load_failure_names_the_models_key_and_the_id(tmp_path, monkeypatch):
    import prefixes.base_models

    def not_on_the_hub(name_or_path, *args, **kwargs):
        raise OSError(f"{name_or_path} is not a local folder and is not a valid model identifier listed on "
                      "'https://huggingface.co/models'\nIf this is a private repository, ...")

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(prefixes.base_models, "load_tokenizer", not_on_the_hub)
    monkeypatch.delenv("PREFIXES_DEBUG", raising=False)
    _support_project(tmp_path, monkeypatch, model="bert")
    params = yaml.safe_load(Path("params.yaml").read_text())
    params["models"]["bert"] = "bert-base-uncasd"
    Path("params.yaml").write_text(yaml.safe_dump(params))
    result = CliRunner().invoke(main, ["prepare", "--task", "support", "--out", "prepared"])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        "Error: OSError: models.bert: cannot load 'bert-base-uncasd': bert-base-uncasd is not a local folder and is "
        "not a valid model identifier listed on 'https://huggingface.co/models'")
