"""Every task of the committed params profiles passes the prepare stage's checks (splits, truncation
limits) on its real data, so `dvc repro` of a profile does not stop at its first stage."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
import yaml

from pipeline.params import load_params
from pipeline.prepare import prepare_task
from prefixes.base_models import load_tokenizer

ROOT = Path(__file__).parents[2]
PROFILES = ("params.yaml", "params-all-kinds.yaml")
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


def _declared_params() -> set[str]:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return {param for stage in stages.values() for param in stage.get("params", []) if isinstance(param, str)}


@pytest.mark.parametrize("profile", [*PROFILES, "tests/e2e/tiny_params.yaml"])
def test_every_param_a_stage_declares_is_in_every_profile(profile):
    """DVC refuses to run a stage whose declared param is missing from params.yaml."""
    data = yaml.safe_load((ROOT / profile).read_text())
    methods = data["prefix_methods"] + data["prompt_methods"] + data["baselines"]["methods"]
    missing = []
    for declared in sorted(_declared_params()):
        for task in data["task_names"]:
            for method in methods:
                path = declared.replace("${item.task}", task).replace("${item.method}", method)
                if not _has(data, path.split(".")):
                    missing.append(path)
    assert not missing, f"{profile} lacks {sorted(set(missing))}"


def _has(data: object, keys: list[str]) -> bool:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return False
        data = data[key]
    return True
