"""Hub-style datasets: configurations and nested fields, through a local dataset folder laid out as
the hub lays one out (README.md `configs:`), which `datasets.load_dataset` reads offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prefixes.data.example import DataError
from prefixes.data.sources import load_source

PAIRS = {
    "de-en": [("Guten Morgen.", "Good morning."), ("Danke schön.", "Thank you very much.")],
    "fr-en": [("Bonjour.", "Hello."), ("Merci.", "Thanks."), ("Oui.", "Yes.")],
}


@pytest.fixture
def wmt_folder(tmp_path: Path) -> Path:
    """Two configurations of WMT-shaped records: ``{"translation": {<src>: ..., "en": ...}}``."""
    configs = []
    for name, pairs in PAIRS.items():
        source_language = name.split("-")[0]
        (tmp_path / name).mkdir()
        lines = [json.dumps({"translation": {source_language: src, "en": tgt}}) for src, tgt in pairs]
        (tmp_path / name / "train.jsonl").write_text("\n".join(lines) + "\n")
        configs.append(f"- config_name: {name}\n  data_files:\n  - split: train\n    path: {name}/train.jsonl\n")
    (tmp_path / "README.md").write_text("---\nconfigs:\n" + "".join(configs) + "---\n")
    return tmp_path


@pytest.mark.parametrize("config", ["de-en", "fr-en"])
def test_a_configuration_and_nested_fields_of_a_hub_dataset(wmt_folder, config):
    language = config.split("-")[0]
    examples = load_source(str(wmt_folder), dataset_config=config,
                           columns={"text": f"translation.{language}", "target": "translation.en"})
    assert [(e.text, e.target) for e in examples] == PAIRS[config]


def test_a_missing_nested_field_names_the_record_and_the_keys(wmt_folder):
    with pytest.raises(DataError, match=r"column 'translation\.fr' record 1 has no nested field 'fr' "
                                        r"\(it holds \['de', 'en'\]\)"):
        load_source(str(wmt_folder), dataset_config="de-en", columns={"text": "translation.fr"})


def test_an_unknown_top_level_column_is_refused_before_reading_records(wmt_folder):
    with pytest.raises(DataError, match=r"has no column 'translations\.de' .* available columns: \['translation'\]"):
        load_source(str(wmt_folder), dataset_config="de-en", columns={"text": "translations.de"})


def test_nested_fields_of_a_local_jsonl_file(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"pair": {"a": "premise", "b": "hypothesis"}, "gold": "entailment"}) + "\n")
    [example] = load_source(str(path), columns={"text": "pair.a", "text_pair": "pair.b", "label": "gold"})
    assert (example.text, example.text_pair, example.label) == ("premise", "hypothesis", "entailment")


def test_a_configuration_for_a_packaged_source_or_file_is_refused(tmp_path):
    with pytest.raises(DataError, match=r"dataset_config='3\.0\.0' given for 'bbc_news'.*drop `dataset_config`"):
        load_source("bbc_news", dataset_config="3.0.0")
    with pytest.raises(DataError, match=r"dataset_config='x' given for .*rows\.csv"):
        load_source(str(tmp_path / "rows.csv"), dataset_config="x")


def test_params_carry_the_configuration_to_prepare(wmt_folder, tmp_path, monkeypatch):
    from pipeline.params import TaskConfig
    from pipeline.prepared import split_task

    project = tmp_path / "project"
    (project / "data" / "raw").mkdir(parents=True)
    (wmt_folder / "README.md").rename(project / "data" / "raw" / "README.md")
    for config in PAIRS:
        (wmt_folder / config).rename(project / "data" / "raw" / config)
    monkeypatch.chdir(project)
    task = TaskConfig.model_validate({
        "source": "data/raw", "dataset_config": "fr-en", "format": "causal_generation", "model": "smollm2",
        "columns": {"text": "translation.fr", "target": "translation.en"}, "eval_fraction": 0.34, "test_fraction": 0.34,
    })
    splits, labels = split_task(task, seed=0)
    assert labels is None
    assert sorted((e.text, e.target) for split in splits.values() for e in split) == sorted(PAIRS["fr-en"])


def test_params_refuse_a_configuration_for_a_packaged_source():
    from pipeline.params import TaskConfig

    with pytest.raises(ValueError, match=r"dataset_config='3\.0\.0' for source 'bbc_news'.*drop dataset_config"):
        TaskConfig.model_validate({"source": "bbc_news", "dataset_config": "3.0.0", "format": "classification",
                                   "model": "minilm"})


def test_an_empty_or_flat_parent_of_a_nested_field(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"translation": None, "flat": "text"}) + "\n")
    with pytest.raises(DataError, match=r"column 'translation\.de' record 1 is empty"):
        load_source(str(path), columns={"text": "translation.de"})
    with pytest.raises(DataError, match=r"'flat' holds a str, not a mapping: map the field to 'flat' itself"):
        load_source(str(path), columns={"text": "flat.de"})


def test_a_nested_class_label_of_a_hub_dataset_becomes_its_name(tmp_path):
    import datasets

    features = datasets.Features({"text": datasets.Value("string"),
                                  "meta": {"gold": datasets.ClassLabel(names=["negative", "positive"])}})
    datasets.Dataset.from_dict({"text": ["bad", "good"], "meta": [{"gold": 0}, {"gold": 1}]},
                               features=features).to_parquet(str(tmp_path / "train.parquet"))
    examples = load_source(str(tmp_path), columns={"label": "meta.gold"})
    assert [e.label for e in examples] == ["negative", "positive"]
