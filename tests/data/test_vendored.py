"""The real dataset samples shipped in prefixes/data/corpora: counts, fields, order, licenses."""

import json
import tomllib
from pathlib import Path

import pytest

from prefixes.data import PACKAGED_SOURCES, DataError, Example, load_source, vendored
from prefixes.data.splits import example_from_dict, example_to_dict, fingerprint

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {"snli": 3000, "xquad_en": 1190, "commonsense_qa": 1221, "wmt21_de_en": 1000, "scitldr": 977, "imdb": 500}


def test_every_vendored_source_is_packaged_with_its_license():
    assert set(EXPECTED) <= set(PACKAGED_SOURCES)
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "data/corpora/*/*" in package_data["prefixes"]
    for name in EXPECTED:
        folder = vendored.CORPORA_DIR / name
        license_text = (folder / "LICENSE.md").read_text()
        assert "Source:" in license_text and "License:" in license_text
        assert sum(f.stat().st_size for f in folder.iterdir()) < 1_000_000


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_counts_and_deterministic_order(name):
    examples = load_source(name)
    assert len(examples) == EXPECTED[name]
    assert fingerprint(load_source(name)) == fingerprint(examples)
    assert all(example_from_dict(example_to_dict(e)) == e for e in examples[:50])


def test_snli_is_premise_hypothesis_and_three_labels():
    snli = load_source("snli")
    assert snli[1] == Example("Two women are embracing while holding to go packages .", label="entailment",
                              text_pair="Two woman are holding packages .")
    assert {e.label: 0 for e in snli}.keys() == {"entailment", "neutral", "contradiction"}


def test_xquad_answers_sit_at_their_offsets_in_the_context():
    qa = load_source("xquad_en")
    first = qa[0]
    assert first.text == "How many points did the Panthers defense surrender?"
    assert first.answers[0] == ("308", first.text_pair.index("308"))
    assert all(e.text_pair[s : s + len(t)] == t for e in qa for t, s in e.answers)
    assert all(len(e.answers) == 1 for e in qa)  # XQuAD keeps one gold answer per question


def test_commonsense_qa_has_five_choices_and_a_letter_label():
    mc = load_source("commonsense_qa")
    assert mc[0].choices == ("bank", "library", "department store", "mall", "new york")
    assert mc[0].label == "A" and mc[0].text.startswith("A revolving door")
    assert all(len(e.choices) == 5 and e.label in "ABCDE" for e in mc)


def test_generation_and_sentiment_samples():
    wmt, tldr, imdb = load_source("wmt21_de_en"), load_source("scitldr"), load_source("imdb")
    assert wmt[0] == Example("Biker reagiert blitzschnell und verhindert Schlimmeres",
                             target="Biker reacts lightning fast and prevents worse.")
    assert tldr[0].text.startswith("Incremental class learning") and tldr[0].target.startswith("FearNet is")
    # every TLDR of an abstract is its own example: 300 abstracts with 2 to 4 references each
    assert len({e.text for e in tldr}) == 300 and tldr[1].text == tldr[0].text != tldr[1].target
    assert [e.label for e in imdb].count("negative") == 261 and imdb[0].text.startswith("seriously ,")


def test_example_without_choices_keeps_its_canonical_json():
    # Adding the choices field must not change hashes, split order or fingerprints of other tasks.
    assert "choices" not in example_to_dict(Example("x", label="a"))
    assert example_to_dict(Example("q", choices=("a", "b"), label="A"))["choices"] == ["a", "b"]


def _corrupt(monkeypatch, tmp_path, name, filename, transform):
    target = tmp_path / name
    target.mkdir()
    for file in (vendored.CORPORA_DIR / name).iterdir():
        text = file.read_text(encoding="utf-8")
        (target / file.name).write_text(transform(text) if file.name == filename else text, encoding="utf-8")
    monkeypatch.setattr(vendored, "CORPORA_DIR", tmp_path)


def test_bad_snli_label_names_file_row_and_field(monkeypatch, tmp_path):
    _corrupt(monkeypatch, tmp_path, "snli", "esnli_snli_dev.labels", lambda t: t.replace("entailment", "yes", 1))
    with pytest.raises(DataError, match=r"esnli_snli_dev.\* row 2 field 'label' holds 'yes'"):
        load_source("snli")


def test_xquad_missing_offset_and_answer_not_in_context(monkeypatch, tmp_path):
    _corrupt(monkeypatch, tmp_path, "xquad_en", "xquad.en.json", lambda t: t.replace('"answer_start": 34', '"start": 34', 1))
    with pytest.raises(DataError, match=r"xquad.en.json question id .* field 'answers' holds .*integer 'answer_start'"):
        load_source("xquad_en")


def test_xquad_answer_not_in_context(monkeypatch, tmp_path):
    def shift(text):
        data = json.loads(text)
        data["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] += 1
        return json.dumps(data)

    _corrupt(monkeypatch, tmp_path, "xquad_en", "xquad.en.json", shift)
    with pytest.raises(DataError, match=r"xquad.en.json question id '56beb4343aeaaa14008c925b' field 'answers' holds \('308'"):
        load_source("xquad_en")


def test_commonsense_qa_wrong_choice_count_and_unknown_key(monkeypatch, tmp_path):
    _corrupt(monkeypatch, tmp_path, "commonsense_qa", "commonsenseqa_dev_rand_split.hf.jsonl",
             lambda t: t.replace('"answerKey": "A"', '"answerKey": "F"', 1))
    with pytest.raises(DataError, match=r"jsonl row 1 field 'answerKey' holds 'F'"):
        load_source("commonsense_qa")


def test_commonsense_qa_four_choices(monkeypatch, tmp_path):
    _corrupt(monkeypatch, tmp_path, "commonsense_qa", "commonsenseqa_dev_rand_split.hf.jsonl",
             lambda t: t.replace('"label": ["A", "B", "C", "D", "E"]', '"label": ["A", "B", "C", "D"]', 1))
    with pytest.raises(DataError, match=r"jsonl row 1 field 'choices' holds .*expected 5 choices"):
        load_source("commonsense_qa")


def test_files_load_choices_and_check_answer_offsets(tmp_path):
    path = tmp_path / "mc.jsonl"
    path.write_text(json.dumps({"text": "q?", "choices": {"label": ["A", "B"], "text": ["x", "y"]}, "label": "B"}) + "\n")
    assert load_source(str(path)) == [Example("q?", label="B", choices=("x", "y"))]
    bad = tmp_path / "qa.jsonl"
    bad.write_text(json.dumps({"text": "who?", "text_pair": "Bob ran.", "answers": [["Bob", 2]]}) + "\n")
    with pytest.raises(DataError, match=r"qa.jsonl column 'answers' record 1 holds \('Bob', 2\)"):
        load_source(str(bad))
    empty = tmp_path / "empty_choices.jsonl"
    empty.write_text(json.dumps({"text": "q?", "choices": []}) + "\n")
    with pytest.raises(DataError, match=r"column 'choices' record 1 holds choices \[\]"):
        load_source(str(empty))
