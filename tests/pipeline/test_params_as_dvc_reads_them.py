"""params.yaml means the same before and after DVC rewrites it (`dvc exp run -S` drops quotes)."""

from __future__ import annotations

import shutil
from pathlib import Path

from dvc.utils.serialize import modify_yaml, parse_yaml

from pipeline.params import load_params
from pipeline.yaml12 import load_yaml

REPO = Path(__file__).resolve().parents[2]


def test_default_params_survive_a_dvc_rewrite(tmp_path):
    params = tmp_path / "params.yaml"
    shutil.copy(REPO / "params.yaml", params)
    before = load_params(params)
    with modify_yaml(params) as data:  # what `-S` does, with ruamel.yaml (YAML 1.2)
        data["seed"] = before.seed
    assert '"no"' not in params.read_text() and "mixed_precision: no" in params.read_text()
    assert load_params(params) == before
    assert before.methods["prompt"].training.mixed_precision == "no"


def test_yaml_1_2_booleans_and_floats():
    data = load_yaml("a: no\nb: off\nc: yes\nd: true\ne: False\nf: 1e-3\ng: -2E5\nh: 12\ni: '1e-3'\n")
    assert data == {"a": "no", "b": "off", "c": "yes", "d": True, "e": False, "f": 0.001, "g": -200000.0,
                    "h": 12, "i": "1e-3"}


# Scalars YAML 1.1 (PyYAML) and DVC's YAML 1.2 reader resolve differently, and a few both read alike.
SCALARS = ["010", "0777", "-010", "1:30", "190:20:30", "0o17", "0x1F", "0b101", "1_000", "1.5e3", "-.5", "1e3",
           ".inf", "no", "on", "Yes", "~", "2001-12-14", "'010'", '"1:30"']


def test_params_numbers_read_as_dvc_reads_them(tmp_path):
    """Issue 28 item 8: `seed: 010` trained with 8 while DVC recorded 10 (`0777`, `1:30` likewise)."""
    for scalar in SCALARS:
        text = f"value: {scalar}\n"
        ours, dvcs = load_yaml(text)["value"], parse_yaml(text, "params.yaml")["value"]
        assert (ours, type(ours)) == (dvcs, type(dvcs)), scalar
    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text().replace("seed: 42\n", "seed: 010\n", 1))
    assert load_params(params).seed == 10
