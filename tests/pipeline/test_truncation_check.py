"""Prepare's truncation check: exact fractions per split, warned above 10%, refused above the limit."""

from __future__ import annotations

import logging

import pytest

from pipeline.params import TaskConfig
from pipeline.truncation_check import check_truncation, measure_truncation
from prefixes.base_models import load_tokenizer
from prefixes.data import DataError, Example

# SmolLM2 reads "word word ... word" (n words) as n tokens. With max_length 16, "\n" after the
# source and "ok" + EOS as the target, training keeps 13 source tokens; a generation prompt
# keeps 16 - 4 (max_target_length) - 1 = 11.
FITS = Example(" ".join(["word"] * 11), target="ok")
PROMPT_CUT = Example(" ".join(["word"] * 12), target="ok")  # trains whole, its prompt loses a token
BOTH_CUT = Example(" ".join(["word"] * 14), target="ok")


@pytest.fixture(scope="module")
def smol():
    return load_tokenizer("smollm2")


def _task(**settings) -> TaskConfig:
    return TaskConfig(source="chitchat", format="causal_generation", model="smollm2", max_length=16,
                      max_target_length=4, **settings)


def _splits(test: list[Example]) -> dict[str, list[Example]]:
    return {"train": [FITS] * 7 + [PROMPT_CUT] * 2 + [BOTH_CUT], "eval": [FITS] * 10, "test": test}


def test_fractions_of_examples_and_of_generation_prompts_per_split(smol):
    measured = measure_truncation(_task(), smol, _splits([FITS] * 4 + [BOTH_CUT] * 6), None)
    assert measured == {
        "train": {"examples": 10, "truncated": 1, "fraction": 0.1, "prompts_truncated": 3, "prompt_fraction": 0.3},
        "eval": {"examples": 10, "truncated": 0, "fraction": 0.0, "prompts_truncated": 0, "prompt_fraction": 0.0},
        "test": {"examples": 10, "truncated": 6, "fraction": 0.6, "prompts_truncated": 6, "prompt_fraction": 0.6},
    }


def test_more_than_half_truncated_is_refused_naming_task_split_fraction_and_settings(smol):
    task = _task()
    measured = measure_truncation(task, smol, _splits([FITS] * 4 + [BOTH_CUT] * 6), None)
    with pytest.raises(DataError) as refused:
        check_truncation("chat", task, measured)
    fix = (", above tasks.chat.max_truncated_fraction=0.5: raise tasks.chat.max_length or lower "
           "tasks.chat.max_target_length, or accept it with tasks.chat.max_truncated_fraction: 0.6")
    assert str(refused.value) == (
        "tasks.chat: 6/10 (60.0%) of the test split's examples are truncated to max_length=16 tokens" + fix + "; "
        "tasks.chat: 6/10 (60.0%) of the test split's generation prompts lose source tokens (max_length=16 "
        "minus max_target_length=4 leaves 12 tokens for the prompt)" + fix
    )


def test_above_ten_percent_warns_and_half_exactly_is_still_accepted(smol, caplog):
    task = _task()
    measured = measure_truncation(task, smol, _splits([FITS] * 5 + [BOTH_CUT] * 5), None)
    with caplog.at_level(logging.WARNING, logger="pipeline.truncation_check"):
        warnings = check_truncation("chat", task, measured)
    # train: 1/10 examples is not above 10%, 3/10 prompts are; test: 5/10 of both.
    assert warnings == [
        "tasks.chat: 3/10 (30.0%) of the train split's generation prompts lose source tokens (max_length=16 "
        "minus max_target_length=4 leaves 12 tokens for the prompt)",
        "tasks.chat: 5/10 (50.0%) of the test split's examples are truncated to max_length=16 tokens",
        "tasks.chat: 5/10 (50.0%) of the test split's generation prompts lose source tokens (max_length=16 "
        "minus max_target_length=4 leaves 12 tokens for the prompt)",
    ]
    assert [record.getMessage() for record in caplog.records if record.name == "pipeline.truncation_check"] == warnings


def test_max_truncated_fraction_allows_what_it_names(smol):
    everything_cut = _splits([BOTH_CUT] * 10)
    measured = measure_truncation(_task(max_truncated_fraction=1.0), smol, everything_cut, None)
    assert measured["test"]["fraction"] == 1.0
    assert len(check_truncation("chat", _task(max_truncated_fraction=1.0), measured)) == 3
    with pytest.raises(DataError, match="10/10 .100.0%. of the test split's examples"):
        check_truncation("chat", _task(max_truncated_fraction=0.99), measured)


def test_seq2seq_prompts_are_the_encoder_inputs():
    # MiniLM reads n words as n tokens between [CLS] and [SEP]: 6 words fill max_length 8 exactly.
    task = TaskConfig(source="chitchat", format="seq2seq_generation", model="minilm", max_length=8)
    fits, cut = Example(" ".join(["word"] * 6), target="ok"), Example(" ".join(["word"] * 7), target="ok")
    measured = measure_truncation(task, load_tokenizer("minilm"), {"test": [fits] * 3 + [cut]}, None)
    assert measured == {"test": {"examples": 4, "truncated": 1, "fraction": 0.25,
                                 "prompts_truncated": 1, "prompt_fraction": 0.25}}
