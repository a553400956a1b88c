"""params.yaml validation: every problem reported at once with its key; override precedence."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.params import ParamsError, load_params

REPO = Path(__file__).resolve().parents[2]


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
        params["methods"]["prefix"]["config"]["prefix_length"] = 0

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


def test_a_run_takes_a_seed_set_in_its_overrides_and_the_top_level_seed_otherwise(tmp_path):
    def overrides(params):
        params["seed"] = 42
        params["task_training"]["bbc_news"] = {"seed": 7, "methods": {"prompt": {"seed": 3}}}

    params = load_params(_write(tmp_path, overrides))
    assert params.run_seed("bbc_news", "prefix") == 7
    assert params.run_seed("bbc_news", "prompt") == 3
    assert params.run_seed("drug_reviews", "prefix") == 42  # TrainingConfig's own default is not a setting
    with pytest.raises(ParamsError, match=r"task_training.bbc_news.methods.prefix.lr: Extra inputs are not permitted"):
        load_params(_write(tmp_path, lambda p: p["task_training"].update(bbc_news={"methods": {"prefix": {"lr": 1}}})))


def test_class_label_prompts_take_the_task_labels():
    params = load_params(REPO / "params.yaml")
    assert params.method_config("bbc_news", "prompt", ["business", "sport"]).class_labels == ["business", "sport"]
    assert params.method_config("chitchat", "prompt", None).prompt_tuning_init == "vocab_sample"


def test_a_task_sets_its_own_method_config_and_bad_values_name_their_key(tmp_path):
    def longer_prefix(params):
        params["task_method_config"] = {"chitchat": {"prefix": {"prefix_length": 32}}}

    params = load_params(_write(tmp_path, longer_prefix))
    shared = params.methods["prefix"].config
    on_chitchat = params.method_config("chitchat", "prefix", None)
    on_bbc = params.method_config("bbc_news", "prefix", ["a", "b"])
    assert (on_chitchat.prefix_length, on_bbc.prefix_length) == (32, shared["prefix_length"])
    assert on_chitchat.prefix_hidden_size == on_bbc.prefix_hidden_size == shared["prefix_hidden_size"]
    for change, message in (
        ({"chitchat": {"prefix": {"prefix_length": 0}}}, r"task_method_config.chitchat.prefix.prefix_length: "),
        ({"chitchat": {"adapterx": {}}}, r"task_method_config.chitchat.adapterx: unknown method"),
        ({"imdb": {"prefix": {}}}, r"task_method_config.imdb: unknown task"),
    ):
        with pytest.raises(ParamsError, match=message):
            load_params(_write(tmp_path, lambda p, c=change: p.update(task_method_config=c)))


def test_local_files_outside_the_raw_data_folder_are_refused(tmp_path):
    outside = tmp_path / "reviews.csv"
    outside.write_text("text,label\ngood,pos\n")

    def point_outside(params):
        params["tasks"]["bbc_news"]["source"] = str(outside)

    with pytest.raises(ParamsError, match=r"tasks.bbc_news: .*source .*reviews.csv.* outside data/raw/: move it there"):
        load_params(_write(tmp_path, point_outside))


@pytest.mark.parametrize(("key", "change"), [
    ("methods.prefix.training.learning_rate", lambda p: p["methods"]["prefix"]["training"].update(learning_rate=-1)),
    ("methods.prefix.training.learning_rate", lambda p: p["methods"]["prefix"]["training"].update(learning_rate=float("nan"))),
    ("training.learning_rate", lambda p: p["training"].update(learning_rate=float("inf"))),
    ("seed", lambda p: p.update(seed=-1)),
    ("seed", lambda p: p.update(seed=2**40)),
    ("tasks.bbc_news.max_examples.train", lambda p: p["tasks"]["bbc_news"]["max_examples"].update(train=-5)),
    ("models.minilm", lambda p: p["models"].update(minilm="")),
    ("task_names", lambda p: p.update(task_names=["bbc_news", "bbc_news"])),
    ("task_names", lambda p: p.update(task_names=["bbc_news", {"x": 1}])),
    ("tasks", lambda p: p.update(tasks=["bbc_news"])),
    ("models", lambda p: p.update(models=["minilm"])),
    ("baselines", lambda p: p.update(baselines=["lora"])),
    ("task_training.chitchat.methods", lambda p: p["task_training"]["chitchat"].update(methods=["prefix"])),
])
def test_values_that_would_crash_a_later_stage_are_refused_with_their_key(tmp_path, key, change):
    with pytest.raises(ParamsError) as caught:
        load_params(_write(tmp_path, change))
    assert f"  {key}" in str(caught.value)


@pytest.mark.parametrize("name", ["Gen", "../x", "a b"])
def test_task_names_the_registry_would_refuse_are_refused_before_any_stage(tmp_path, name):
    def rename(params):
        params["tasks"][name] = params["tasks"].pop("bbc_news")
        params["task_names"] = [name if t == "bbc_news" else t for t in params["task_names"]]
        params["baselines"]["tasks"] = [name]
        params["task_training"] = {}

    with pytest.raises(ParamsError, match="registry"):
        load_params(_write(tmp_path, rename))


def test_a_shared_setting_every_method_overrides_is_refused_naming_the_real_knobs(tmp_path):
    def shadow(params):
        params["training"]["learning_rate"] = 0.005
        for method in params["baselines"]["methods"]:  # the methods params.yaml leaves on the shared rate
            params["methods"][method]["training"] = {"learning_rate": 1e-4}

    with pytest.raises(ParamsError, match=r"training.learning_rate: every method sets its own value.*"
                                          r"methods.prefix.training.learning_rate"):
        load_params(_write(tmp_path, shadow))
