"""Deduplication, stratified deterministic splits, fingerprints and JSONL round trips."""

import hashlib
import json
import random
from collections import Counter

import pytest

from prefixes.data import (
    DataError,
    Example,
    deduplicate,
    fingerprint,
    load_examples,
    load_source,
    save_examples,
    split_examples,
)
from prefixes.data.grouping import count_sources

SPLIT = {"seed": 0, "eval_fraction": 0.1, "test_fraction": 0.1}


@pytest.fixture(scope="module")
def bbc() -> list[Example]:
    return load_source("bbc_news")


def test_deduplicate_normalises_whitespace_and_case_and_keeps_the_first():
    examples = [
        Example("Hello  World", label="a"),
        Example("hello world\n", label="b"),
        Example("Hello World", label="a", text_pair="other premise"),
        Example("something else"),
    ]
    assert deduplicate(examples) == [examples[0], examples[2], examples[3]]


def test_bbc_news_has_101_duplicates(bbc):
    unique = deduplicate(bbc)
    assert len(unique) == 2124
    assert Counter(e.label for e in unique) == {
        "business": 503,
        "sports": 502,
        "politics": 403,
        "entertainment": 369,
        "tech": 347,
    }


def test_bbc_split_sizes_are_stratified_and_disjoint(bbc):
    splits = split_examples(bbc, **SPLIT)
    assert {name: len(split) for name, split in splits.items()} == {
        "train": 1700,
        "eval": 212,
        "test": 212,
    }
    assert Counter(e.label for e in splits["test"]) == {
        "business": 50,
        "sports": 50,
        "politics": 40,
        "entertainment": 37,
        "tech": 35,
    }
    texts = {
        name: {" ".join(e.text.split()).casefold() for e in split} for name, split in splits.items()
    }
    assert not texts["train"] & texts["eval"]
    assert not texts["train"] & texts["test"]
    assert not texts["eval"] & texts["test"]
    assert sorted(map(repr, sum(splits.values(), []))) == sorted(map(repr, deduplicate(bbc)))


def test_split_is_pinned_for_a_seed_and_changes_with_the_seed(bbc):
    splits = split_examples(bbc, **SPLIT)
    assert fingerprint(splits["train"]) == (
        "ec1a5027933ea6717dae6fa605bb81042d6c53ae4a638f6b992671963e1cd5aa"
    )
    again = split_examples(bbc, **SPLIT)
    other_seed = split_examples(bbc, **{**SPLIT, "seed": 1})
    assert all(fingerprint(again[k]) == fingerprint(splits[k]) for k in splits)
    assert fingerprint(other_seed["test"]) != fingerprint(splits["test"])


def test_split_does_not_depend_on_input_order(bbc):
    unique = deduplicate(bbc)
    shuffled = unique[:]
    random.Random(123).shuffle(shuffled)
    first, second = split_examples(unique, **SPLIT), split_examples(shuffled, **SPLIT)
    assert all(first[k] == second[k] for k in first)


def test_max_examples_caps_a_split_and_keeps_it_stratified(bbc):
    splits = split_examples(bbc, **SPLIT, max_examples={"train": 400, "eval": 50})
    assert {name: len(split) for name, split in splits.items()} == {
        "train": 400,
        "eval": 50,
        "test": 212,
    }
    # Proportional shares of 400 are 94.7, 94.5, 75.9, 69.5, 65.4.
    assert Counter(e.label for e in splits["train"]) == {
        "business": 95,
        "sports": 95,
        "politics": 75,
        "entertainment": 69,
        "tech": 66,
    }


def test_unlabelled_examples_split_by_question_without_strata():
    pairs = load_source("chatterbot_qa")
    splits = split_examples(pairs, seed=1, eval_fraction=0.05, test_fraction=0.15)
    # 2306 rows hold 1176 distinct (question, answer) pairs over 1014 distinct questions:
    # 15% -> 152 questions, 5% -> 51, the rest trains, each question with all its answers.
    assert {name: count_sources(split) for name, split in splits.items()} == {
        "train": 811,
        "eval": 51,
        "test": 152,
    }
    assert {name: len(split) for name, split in splits.items()} == {
        "train": 941,
        "eval": 65,
        "test": 170,
    }


def test_bad_split_settings_are_all_reported_at_once():
    with pytest.raises(DataError) as err:
        split_examples(
            [Example("a")], seed=0, eval_fraction=-0.1, test_fraction=1.0,
            max_examples={"dev": 5, "train": 0},
        )
    message = str(err.value)
    for problem in ("eval_fraction=-0.1", "test_fraction=1.0", "'dev'", "max_examples['train']=0"):
        assert problem in message


def test_too_few_examples_to_train_on():
    examples = [Example("a"), Example("b")]
    with pytest.raises(DataError, match="2 unique sources leave nothing for training"):
        split_examples(examples, seed=0, eval_fraction=0.1, test_fraction=0.1)


EXAMPLES = [
    Example("Où est le chat ?", label="fr"),
    Example("Who?", text_pair="Bob did it.", answers=(("Bob", 0), ("Bob did", 0))),
    Example("hi", target="hello\nthere"),
]


def test_fingerprint_matches_an_independent_sha256_of_canonical_json():
    digest = hashlib.sha256()
    for example in EXAMPLES:
        answers = None if example.answers is None else [list(a) for a in example.answers]
        record = {
            "text": example.text,
            "label": example.label,
            "text_pair": example.text_pair,
            "target": example.target,
            "answers": answers,
        }
        digest.update(json.dumps(record, sort_keys=True, ensure_ascii=False).encode() + b"\n")
    assert fingerprint(EXAMPLES) == digest.hexdigest()


def test_fingerprint_changes_with_one_field_and_with_order():
    base = fingerprint(EXAMPLES)
    assert fingerprint(list(EXAMPLES)) == base
    changed = [EXAMPLES[0], EXAMPLES[1], Example("hi", target="hello there")]
    assert fingerprint(changed) != base
    assert fingerprint(EXAMPLES[::-1]) != base


def test_save_and_load_round_trip_exactly(tmp_path):
    path = tmp_path / "nested" / "examples.jsonl"
    save_examples(path, EXAMPLES)
    loaded = load_examples(path)
    assert loaded == EXAMPLES
    assert isinstance(loaded[1].answers, tuple) and isinstance(loaded[1].answers[0], tuple)
    assert fingerprint(loaded) == fingerprint(EXAMPLES)


def test_load_examples_names_the_file_and_line(tmp_path):
    path = tmp_path / "examples.jsonl"
    path.write_text('{"text": "ok"}\n{"text": "x", "sentence": "y"}\n')
    message = r"examples.jsonl line 2 .*unknown field\(s\) \['sentence'\]"
    with pytest.raises(DataError, match=message):
        load_examples(path)
    with pytest.raises(DataError, match="does not exist"):
        load_examples(tmp_path / "missing.jsonl")
