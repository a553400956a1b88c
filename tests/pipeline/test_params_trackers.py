"""`training.report_to` in params.yaml: accelerate's trackers, checked by `prefixes check-params` before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.params import ParamsError, load_params

REPO = Path(__file__).resolve().parents[2]


def _check(tmp_path: Path, **training) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["training"].update(training)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    load_params(tmp_path / "params.yaml")


def test_check_params_refuses_an_unknown_tracker(tmp_path):
    with pytest.raises(ParamsError, match=r"training\.report_to\.1: Input should be 'dvclive', .* \(got 'neptune'\)"):
        _check(tmp_path, report_to=["dvclive", "neptune"])


def test_check_params_names_the_missing_package_and_its_pip_command(tmp_path, monkeypatch):
    monkeypatch.setattr("prefixes.tracking._installed", lambda module: module == "dvclive")
    with pytest.raises(ParamsError, match=r"training\.report_to: \['tensorboard'\] needs a package that is not "
                                          r"installed: run `pip install tensorboard`"):
        _check(tmp_path, report_to=["dvclive", "tensorboard"])


def test_check_params_refuses_a_pipeline_run_without_dvclive(tmp_path):
    with pytest.raises(ParamsError, match=r"training\.report_to: \['none'\] leaves out dvclive"):
        _check(tmp_path, report_to="none")


def test_every_pipeline_run_reports_to_dvclive(tmp_path):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    del params["training"]["report_to"]  # unset: the pipeline still declares DVCLive's files
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert load_params(tmp_path / "params.yaml").training_config("bbc_news", "prefix").report_to == ["dvclive"]
    assert load_params(REPO / "params.yaml").training_config("chitchat", "prompt").report_to == ["dvclive"]
