"""Stage commands answer bad input with one line `Error: ...`, exit 1, and leave nothing partial."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from click.testing import CliRunner

from pipeline.cli import main

REPO = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path, monkeypatch, source: str) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["tasks"]["bbc_news"]["source"] = source
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "data" / "raw").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PREFIXES_DEBUG", raising=False)
    return tmp_path


def test_prepare_with_bad_data_prints_one_line_and_writes_nothing(tmp_path, monkeypatch):
    project = _project(tmp_path, monkeypatch, "data/raw/empty.csv")
    (project / "data" / "raw" / "empty.csv").write_text("text,label\n")

    result = CliRunner().invoke(main, ["prepare", "--task", "bbc_news", "--out", "out/bbc_news"])

    assert result.exit_code == 1
    # The stage's start line, then the error as its one end line (no traceback, no "done").
    assert result.output.strip().splitlines() == [
        "prepare bbc_news: started",
        "Error: DataError: File data/raw/empty.csv holds no records: write at least one example to it."]
    assert not (project / "out").exists()


def test_evaluate_of_a_folder_that_is_no_artifact_names_what_is_missing(tmp_path, monkeypatch):
    project = _project(tmp_path, monkeypatch, "bbc_news")
    (project / "artifact").mkdir()
    shutil.copytree(REPO / "tests" / "pipeline", project / "data_dir")  # any existing folder

    result = CliRunner().invoke(main, ["evaluate", "--task", "bbc_news", "--artifact", "artifact",
                                       "--data", "data_dir", "--out", "metrics/out.json",
                                       "--details", "evaluations/out.json"])

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0] == "evaluate bbc_news: started" and len(lines) == 2 and lines[1].startswith("Error: ")
    assert not (project / "metrics").exists()
