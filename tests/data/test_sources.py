"""load_source on the packaged corpora, local files, a stand-in hub dataset, and bad input."""

import json
import os
import re
from collections import Counter

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import datasets
import pandas as pd
import pytest

from prefixes.data import PACKAGED_SOURCES, DataError, Example, load_source


@pytest.fixture(scope="module")
def bbc() -> list[Example]:
    return load_source("bbc_news")


def test_bbc_news_has_2225_docs_in_5_sorted_labels(bbc):
    assert len(bbc) == 2225
    assert Counter(e.label for e in bbc) == {
        "business": 510,
        "entertainment": 386,
        "politics": 417,
        "sports": 511,
        "tech": 401,
    }
    # Grouped by label in sorted order, files in sorted order: business/001.txt comes first.
    labels_in_order = list(dict.fromkeys(e.label for e in bbc))
    assert labels_in_order == sorted(labels_in_order)
    assert bbc[0].text.startswith("Ad sales boost Time Warner profit\n\nQuarterly profits")
    assert all(e.target is None and e.text_pair is None for e in bbc)


def test_bbc_news_reads_the_one_windows_1252_article(bbc):
    mutu = [e for e in bbc if e.text.startswith("Chelsea sack Mutu")]
    assert len(mutu) == 1
    assert "a £15.8m signing from Parma" in mutu[0].text


def test_drug_reviews_splits_labels_and_unescaped_text():
    train = load_source("drug_reviews", split="train")
    test = load_source("drug_reviews", split="test")
    both = load_source("drug_reviews")
    assert (len(train), len(test)) == (600, 379)
    assert both == train + test
    assert Counter(e.label for e in train) == {"positive": 385, "negative": 161, "neutral": 54}
    assert Counter(e.label for e in test) == {"positive": 248, "negative": 95, "neutral": 36}
    assert train[0].text.startswith("I recently received an injection of nalbuphine")
    assert train[0].text.endswith("actually helped severe pain.")
    assert not any(re.search(r"&#?\w+;", e.text) for e in both)
    # The TSV wraps every review in quotes; only one review really ends in a quoted word.
    assert not any(e.text.startswith('"') for e in both)
    assert [e.text[-13:] for e in both if e.text.endswith('"')] == ['"side-effect"']
    assert "couldn’t help it" in train[1].text  # was "couldn&rsquo;t"


def test_drug_reviews_unknown_split_lists_the_valid_ones():
    with pytest.raises(DataError, match=r"split='validation'.*\['train', 'test'\]"):
        load_source("drug_reviews", split="validation")


def test_chitchat_is_message_reply_pairs_of_consecutive_turns():
    pairs = load_source("chitchat")
    # 131,569 consecutive turn pairs, minus the 21 that touch one of the 12 empty turns.
    assert len(pairs) == 131_548
    assert pairs[0] == Example(
        text="Hello How are you doing today?",
        target="whats up MD im doing good how are you doing?",
    )
    assert pairs[1].text == pairs[0].target
    assert all(e.text and e.target and e.label is None for e in pairs)


def test_chatterbot_qa_pairs_from_sorted_yml_files():
    pairs = load_source("chatterbot_qa")
    assert len(pairs) == 2306
    assert pairs[0] == Example(
        text="What is AI?",
        target="Artificial Intelligence is the branch of engineering and science devoted to "
        "constructing machines that think.",
    )
    assert all(e.text and e.target for e in pairs)


def test_limit_keeps_the_first_examples_and_loading_is_deterministic(bbc):
    assert load_source("bbc_news", limit=7) == bbc[:7]
    assert load_source("bbc_news") == bbc
    with pytest.raises(DataError, match="limit=0"):
        load_source("bbc_news", limit=0)


def test_unknown_source_lists_packaged_names_and_suggests_the_closest():
    with pytest.raises(DataError) as err:
        load_source("bbc-news")
    message = str(err.value)
    assert all(name in message for name in PACKAGED_SOURCES)
    assert "Did you mean 'bbc_news'?" in message


def test_packaged_sources_reject_columns_and_splits():
    with pytest.raises(DataError, match="columns="):
        load_source("bbc_news", columns={"text": "body"})
    with pytest.raises(DataError, match="split='train'.*no splits"):
        load_source("chitchat", split="train")


def test_hub_dataset_class_labels_become_names(monkeypatch):
    features = datasets.Features(
        {"sentence": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}
    )
    fake = datasets.Dataset.from_dict(
        {"sentence": ["bad film", "good film"], "label": [0, 1]}, features=features
    )
    calls = []

    def load_dataset(source, name, split):
        calls.append((source, name, split))
        return fake

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    examples = load_source("someone/sst", columns={"text": "sentence"})
    assert calls == [("someone/sst", None, "train")]
    assert examples == [Example("bad film", label="neg"), Example("good film", label="pos")]


# ---- local files -------------------------------------------------------------------------------

ROWS = [
    {"sentence": "first text", "sentiment": 1, "extra": "x"},
    {"sentence": "second text", "sentiment": 0, "extra": "y"},
]
EXPECTED = [Example("first text", label="1"), Example("second text", label="0")]
COLUMNS = {"text": "sentence", "label": "sentiment"}


def _write(path, rows):
    frame = pd.DataFrame(rows)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif path.suffix == ".parquet":
        frame.to_parquet(path)
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    else:
        path.write_text(json.dumps(rows))
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".json", ".parquet"])
def test_every_file_format_loads_with_a_column_mapping(tmp_path, suffix):
    path = _write(tmp_path / f"data{suffix}", ROWS)
    assert load_source(str(path), columns=COLUMNS) == EXPECTED


def test_identity_columns_and_squad_style_answers(tmp_path):
    rows = [
        {
            "text": "Where is the cat?",
            "text_pair": "The cat is in Paris.",
            "answers": {"text": ["Paris", "in Paris"], "answer_start": [14, 11]},
        },
        {"text": "Who?", "text_pair": "Bob did it.", "answers": [["Bob", 0]]},
    ]
    path = _write(tmp_path / "qa.jsonl", rows)
    assert load_source(str(path)) == [
        Example("Where is the cat?", text_pair="The cat is in Paris.",
                answers=(("Paris", 14), ("in Paris", 11))),
        Example("Who?", text_pair="Bob did it.", answers=(("Bob", 0),)),
    ]


def test_csv_answers_may_be_json_strings(tmp_path):
    path = _write(
        tmp_path / "qa.csv",
        [{"q": "Who?", "ctx": "Bob did it.", "ans": json.dumps([["Bob", 0]])}],
    )
    examples = load_source(str(path), columns={"text": "q", "text_pair": "ctx", "answers": "ans"})
    assert examples == [Example("Who?", text_pair="Bob did it.", answers=(("Bob", 0),))]


# ---- bad files: every message names the file, and the column where there is one ---------------


def test_missing_mapped_column_lists_the_available_ones(tmp_path):
    path = _write(tmp_path / "data.csv", ROWS)
    with pytest.raises(DataError) as err:
        load_source(str(path), columns={"text": "sentence", "label": "stars"})
    message = str(err.value)
    assert str(path) in message and "'stars'" in message and "'label'" in message
    assert "['sentence', 'sentiment', 'extra']" in message


def test_missing_text_column_asks_for_a_mapping(tmp_path):
    path = _write(tmp_path / "data.jsonl", ROWS)
    with pytest.raises(DataError) as err:
        load_source(str(path))
    message = str(err.value)
    assert str(path) in message and "no column 'text'" in message
    assert "['sentence', 'sentiment', 'extra']" in message


def test_unknown_field_in_columns(tmp_path):
    path = _write(tmp_path / "data.csv", ROWS)
    with pytest.raises(DataError, match=r"unknown Example field\(s\) \['sentence'\]"):
        load_source(str(path), columns={"sentence": "text"})


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("sentence,sentiment\n")
    with pytest.raises(DataError, match=f"{re.escape(str(path))} holds no records"):
        load_source(str(path), columns=COLUMNS)


def test_a_csv_error_names_the_line_an_editor_shows(tmp_path):
    path = _write(tmp_path / "data.csv", [ROWS[0], {"sentence": "", "sentiment": 1, "extra": ""}])
    with pytest.raises(DataError) as err:
        load_source(str(path), columns=COLUMNS)
    assert path.read_text().splitlines()[2].startswith(",")  # the header is line 1, the empty cell line 3
    assert f"File {path} column 'sentence' line 3 is empty" in str(err.value)


def test_a_missing_text_column_is_explained_as_a_columns_setting(tmp_path):
    path = _write(tmp_path / "data.csv", ROWS)
    with pytest.raises(DataError) as err:
        load_source(str(path))
    assert "`columns: {text: <column>}`" in str(err.value) and "columns={" not in str(err.value)


def test_non_string_text_names_the_value(tmp_path):
    path = _write(tmp_path / "data.jsonl", [{"text": 42}])
    with pytest.raises(DataError) as err:
        load_source(str(path))
    assert f"File {path} column 'text' record 1 holds 42 (int)" in str(err.value)


def test_malformed_answers_name_file_and_column(tmp_path):
    path = _write(tmp_path / "qa.jsonl", [{"text": "Who?", "text_pair": "Bob.", "answers": [5]}])
    with pytest.raises(DataError) as err:
        load_source(str(path))
    assert f"File {path} column 'answers' record 1" in str(err.value)


def test_malformed_jsonl_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{"text": oops}\n')
    with pytest.raises(DataError, match=f"{re.escape(str(path))} line 2 is not valid JSON"):
        load_source(str(path))


def test_json_that_is_not_a_list_of_objects(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"data": []}')
    with pytest.raises(DataError, match=f"{re.escape(str(path))} must hold a JSON list of objects"):
        load_source(str(path))


def test_unreadable_parquet(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=f"{re.escape(str(path))} could not be read"):
        load_source(str(path))


def test_missing_file_and_unsupported_extension(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(DataError, match=f"{re.escape(str(missing))} does not exist"):
        load_source(str(missing))
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")
    with pytest.raises(DataError, match=r"unsupported extension '\.txt'.*\.csv, \.tsv"):
        load_source(str(text_file))
