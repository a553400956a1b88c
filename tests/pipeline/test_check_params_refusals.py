"""`prefixes check-params` refuses what would fail hours later or should never run (issue 28 item 9),
and base-model ids that cannot load offline (issue 24 item 5), each naming its key."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pipeline.common import check_params

REPO = Path(__file__).resolve().parents[2]


def _check(tmp_path: Path, change) -> tuple[int, str]:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    change(params)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    result = CliRunner().invoke(check_params, ["--params", str(path)])
    return result.exit_code, result.output


def _task(name: str, **fields):
    return lambda params: params["tasks"][name].update(fields)


def _training(**fields):
    return lambda params: params["training"].update(fields)


SHELL_COMMANDS = ["prefixes | tee log", "prefixes; rm -rf data", "prefixes && touch x", "prefixes & sleep 9",
                  "`touch x` -m pipeline", "$(touch x) -m pipeline", "accelerate launch -m pipeline\ntouch x",
                  "prefixes > out", "python -m pipeline # x", "'python' -m pipeline"]


@pytest.mark.parametrize(("key", "change", "message"), [
    ("publish.alias", lambda p: p["publish"].update(alias="../x"), "not an alias the registry accepts"),
    ("publish.alias", lambda p: p["publish"].update(alias="v3"), "not like 'v3'"),
    ("tasks.chitchat.template", _task("chitchat", template="User: hi\nAssistant: "), "holds {source} 0 times"),
    ("tasks.chitchat.template", _task("chitchat", template="{source} {source}"), "holds {source} 2 times"),
    ("tasks.bbc_news.columns", _task("bbc_news", columns={"evil": "x"}), "['evil'] are not example fields"),
    *[("launch.train", lambda p, c=command: p["launch"].update(train=c), "which the shell DVC runs the stage in")
      for command in SHELL_COMMANDS],
    ("launch.train", lambda p: p["launch"].update(train="python -m pipelines"), "ends in '-m pipeline'"),
    ("tasks.bbc_news.max_length", _task("bbc_news", max_length="128"), "valid integer"),
    ("tasks.bbc_news.max_length", _task("bbc_news", max_length=1e15), "valid integer"),
    ("tasks.bbc_news.max_length", _task("bbc_news", max_length=2_000_000), "less than or equal to 1048576"),
    ("training.batch_size", _training(batch_size=True), "valid integer"),
    ("training.batch_size", _training(batch_size=1_000_000), "less than or equal to 65536"),
    ("training.num_epochs", _training(num_epochs=10**7), "less than or equal to 100000"),
    ("training.learning_rate", _training(learning_rate="0.001"), "valid number"),
    ("seed", lambda p: p.update(seed="7"), "valid integer"),
    ("task_training.chitchat.num_epochs", lambda p: p["task_training"]["chitchat"].update(num_epochs="1"),
     "valid integer"),
    ("methods", lambda p: p["methods"]["prefix"]["config"].update(prefix_length="16"),
     "prefix.config.prefix_length: Input should be a valid integer (got '16')"),
    ("evaluate.max_new_tokens", lambda p: p["evaluate"].update(max_new_tokens=10**9), "less than or equal"),
    ("tasks.chitchat", _task("chitchat", normalize_labels=True), "normalize_labels applies to class labels"),
])
def test_check_params_refuses_what_fails_hours_later_naming_the_key(tmp_path, key, change, message):
    exit_code, output = _check(tmp_path, change)
    assert exit_code == 1
    line = next((line for line in output.splitlines() if line.strip().startswith(f"{key}:")), None)
    assert line is not None, output
    assert message in line, line


@pytest.mark.parametrize("command", [
    "prefixes", "accelerate launch --config_file accelerate/multi_gpu.yaml -m pipeline",
    "CUDA_VISIBLE_DEVICES=0,1 accelerate launch --num_processes 2 -m pipeline",
    "python -m torch.distributed.run --nproc_per_node 2 -m pipeline",
])
def test_plain_launchers_pass(tmp_path, command):
    assert _check(tmp_path, lambda p: p["launch"].update(train=command)) == (0, f"{tmp_path / 'params.yaml'}: ok (3 tasks)\n")


def test_a_hub_id_missing_offline_is_refused_fast_naming_its_key(tmp_path):
    """Issue 24 item 5: `models: {bert: bert-base-uncasd}` passed check-params; prepare then retried for 54 s."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["models"]["bert"] = "bert-base-uncasd"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = {key: value for key, value in os.environ.items() if key != "HF_HUB_OFFLINE"}  # the default applies
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pipeline", "check-params"], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    assert result.returncode == 1
    assert ("  models.bert: 'bert-base-uncasd' is neither an embedded model (minilm, smollm2), a local folder nor "
            "in the local Hugging Face cache, and HF_HUB_OFFLINE=1: fix the id, or download it once by running "
            "with HF_HUB_OFFLINE=0") in result.stderr
    assert elapsed < 3, elapsed  # the interpreter's start included; the check itself takes milliseconds
    online = subprocess.run([sys.executable, "-m", "pipeline", "check-params"], cwd=tmp_path,
                            env={**env, "HF_HUB_OFFLINE": "0"}, capture_output=True, text=True)
    assert online.returncode == 0, online.stderr  # online the hub decides, when the model loads


def test_offline_is_the_default_of_the_library_and_the_command():
    """Issue 24 item 5: an activated .venv did not get the offline default that dev.sh sets."""
    env = {key: value for key, value in os.environ.items() if key != "HF_HUB_OFFLINE"}
    code = "import prefixes, huggingface_hub.constants as c; print(c.HF_HUB_OFFLINE)"
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout == "True\n"
    assert subprocess.run([sys.executable, "-c", code], env={**env, "HF_HUB_OFFLINE": "0"}, capture_output=True,
                          text=True, check=True).stdout == "False\n"
