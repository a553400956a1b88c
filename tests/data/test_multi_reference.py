"""Multi-reference generation data: de-duplicated by (source, target), split by source."""

import random

from prefixes.data import Example, deduplicate, fingerprint, references_by_source, split_examples
from prefixes.data.grouping import count_sources, group_by_source, source_key

SPLIT = {"seed": 3, "eval_fraction": 0.1, "test_fraction": 0.2}


def _rows(source: int, references: int) -> list[Example]:
    """E2E-style rows: one meaning representation written up by `references` annotators."""
    text = f"name[Inn {source}] | area[riverside] | food[dish {source}]"
    return [Example(text, target=f"Inn {source} by the river, write-up {r}.") for r in range(references)]


def _data_to_text(sources: int = 20, references: int = 3) -> list[Example]:
    return [example for source in range(sources) for example in _rows(source, references)]


def _split_sources(splits: dict[str, list[Example]]) -> dict[str, set]:
    return {name: {source_key(example) for example in split} for name, split in splits.items()}


def test_deduplicate_keeps_every_distinct_reference_and_drops_repeated_pairs():
    examples = [
        Example("Mr Hill", target="He is tall."),
        Example("mr  hill", target="he is TALL."),  # the same pair, normalised
        Example("Mr Hill", target="A tall man."),
        Example("Mr Hill", label="person"),  # no target: repeats the source
        Example("Ms Dale", label="person"),
        Example("ms dale", label="other"),  # a classification text keeps its first label
    ]
    assert deduplicate(examples) == [examples[0], examples[2], examples[4]]
    assert [len(group) for group in group_by_source(examples)] == [2, 1]
    assert count_sources(examples) == 2


def test_every_pair_of_a_source_lands_in_one_split():
    data = _data_to_text()
    splits = split_examples(data, **SPLIT)
    # 20 sources: 20% -> 4 test, 10% -> 2 eval, 14 train; each with all 3 of its references.
    assert {name: len(split) for name, split in splits.items()} == {"train": 42, "eval": 6, "test": 12}
    sources = _split_sources(splits)
    assert {name: len(keys) for name, keys in sources.items()} == {"train": 14, "eval": 2, "test": 4}
    assert not sources["train"] & sources["eval"]
    assert not sources["train"] & sources["test"]
    assert not sources["eval"] & sources["test"]
    assert sorted(map(repr, sum(splits.values(), []))) == sorted(map(repr, data))


def test_split_by_source_is_deterministic_under_the_seed_and_ignores_input_order():
    data = _data_to_text()
    shuffled = data[:]
    random.Random(7).shuffle(shuffled)
    first, again = split_examples(data, **SPLIT), split_examples(shuffled, **SPLIT)
    assert all(fingerprint(first[name]) == fingerprint(again[name]) for name in first)
    other = split_examples(data, **{**SPLIT, "seed": 4})
    assert _split_sources(other)["test"] != _split_sources(first)["test"]


def test_uneven_reference_counts_and_caps_count_whole_sources():
    # Source s has s % 4 + 1 references: 1, 2, 3, 4, 1, 2, ... -> 50 pairs over 20 sources.
    data = [example for source in range(20) for example in _rows(source, source % 4 + 1)]
    assert len(data) == 50
    references_of = {source_key(group[0]): len(group) for group in group_by_source(data)}
    splits = split_examples(data, **SPLIT, max_examples={"train": 5})
    sources = _split_sources(splits)
    assert {name: len(keys) for name, keys in sources.items()} == {"train": 5, "eval": 2, "test": 4}
    for name, keys in sources.items():  # every kept source brings all of its references
        assert len(splits[name]) == sum(references_of[key] for key in keys)


def test_references_by_source_collects_every_target_of_each_test_source():
    test = split_examples(_data_to_text(), **SPLIT)["test"]
    grouped = references_by_source(test)
    assert len(grouped) == 4
    for entry in grouped:
        number = entry.example.text.split("[Inn ")[1].split("]")[0]
        assert sorted(entry.references) == [f"Inn {number} by the river, write-up {r}." for r in range(3)]
