"""Every task of the committed params profiles passes the prepare stage's checks (splits, truncation
limits) on its real data, so `dvc repro` of a profile does not stop at its first stage."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from pipeline.params import load_params
from pipeline.prepare import prepare_task
from prefixes.base_models import load_tokenizer

ROOT = Path(__file__).parents[2]
PROFILES = ("params.yaml", "params-seed.yaml")
CASES = [(profile, task) for profile in PROFILES for task in load_params(ROOT / profile).task_names]


@cache
def _tokenizer(model: str):
    return load_tokenizer(model)


@pytest.mark.parametrize(("profile", "task"), CASES)
def test_every_profile_task_prepares_within_its_truncation_limit(profile, task, tmp_path):
    params = load_params(ROOT / profile)
    config = params.tasks[task]
    summary = prepare_task(task, config, seed=params.seed, output_dir=tmp_path,
                           tokenizer=_tokenizer(params.models[config.model]))
    assert all(summary["counts"][split] > 0 for split in ("train", "eval", "test")), summary["counts"]
