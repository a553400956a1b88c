"""params.yaml validation: every problem reported at once with its key; override precedence."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from prefixes.params import ParamsError, load_params

REPO = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, change) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    change(params)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_the_shipped_params_are_valid():
    params = load_params(REPO / "params.yaml")
    assert set(params.task_names) <= set(params.tasks)


def test_every_problem_is_reported_with_its_key(tmp_path):
    def break_it(params):
        params["training"]["learning_rate"] = -0.1
        params["training"]["lerning_rate"] = 0.1
        params["task_names"].append("imdb")
        params["tasks"]["bbc_news"]["format"] = "sentiment"
        params["methods"]["prefix"]["prefix"]["prefix_length"] = 0

    with pytest.raises(ParamsError) as error:
        load_params(_write(tmp_path, break_it))
    message = str(error.value)
    for key in ("training.learning_rate", "training.lerning_rate", "tasks.bbc_news.format", "prefix_length"):
        assert key in message, key
    # Cross-references are checked once every field is valid; they name the key too.
    with pytest.raises(ParamsError, match="task_names: unknown task 'imdb'"):
        load_params(_write(tmp_path, lambda p: p["task_names"].append("imdb")))


def test_training_overrides_apply_shared_method_task_then_task_method(tmp_path):
    def overrides(params):
        params["training"]["batch_size"] = 4
        params["methods"]["prefix"]["training"] = {"learning_rate": 0.5, "num_epochs": 7}
        params["task_training"]["bbc_news"] = {"num_epochs": 2, "methods": {"prefix": {"learning_rate": 0.25}}}

    params = load_params(_write(tmp_path, overrides))
    config = params.training_config("bbc_news", "prefix")
    assert (config.batch_size, config.num_epochs, config.learning_rate) == (4, 2, 0.25)
    assert params.training_config("drug_reviews", "prefix").learning_rate == 0.5
    with pytest.raises(ParamsError, match=r"task_training.bbc_news.methods.prefix: unknown training keys \['lr'\]"):
        load_params(_write(tmp_path, lambda p: p["task_training"].update(bbc_news={"methods": {"prefix": {"lr": 1}}})))


def test_class_label_prompts_take_the_task_labels():
    params = load_params(REPO / "params.yaml")
    assert params.method_config("prompt", ["business", "sport"]).class_labels == ["business", "sport"]
    assert params.method_config("prompt", None).prompt_tuning_init == "vocab_sample"
