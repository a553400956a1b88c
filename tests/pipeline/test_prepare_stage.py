"""The prepare stage on multi-reference data: counts of sources and pairs, truncation in data.json."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from pipeline.cli import main

REPO = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path, monkeypatch, **chitchat) -> Path:
    """params.yaml whose chitchat task reads 20 sources with 3 references each from data/raw."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["tasks"]["chitchat"] = {"source": "data/raw/inns.jsonl", "format": "causal_generation",
                                   "model": "smollm2", **chitchat}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    rows = [{"text": f"name[Inn {s}] | area[riverside] | food[dish {s}]", "target": f"Inn {s}, write-up {r}."}
            for s in range(20) for r in range(3)]
    (tmp_path / "data" / "raw").mkdir(parents=True)
    (tmp_path / "data" / "raw" / "inns.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PREFIXES_DEBUG", raising=False)
    return tmp_path


def test_prepare_records_sources_pairs_and_truncation(tmp_path, monkeypatch):
    project = _project(tmp_path, monkeypatch, max_length=64, max_target_length=16)

    result = CliRunner().invoke(main, ["prepare", "--task", "chitchat", "--out", "out/chitchat"])

    assert result.exit_code == 0, result.output
    summary = json.loads((project / "out" / "chitchat" / "data.json").read_text())
    assert summary["sources"] == {"train": 14, "eval": 2, "test": 4}
    assert summary["counts"] == {"train": 42, "eval": 6, "test": 12}
    assert summary["truncation"]["test"] == {"examples": 12, "truncated": 0, "fraction": 0.0,
                                             "prompts_truncated": 0, "prompt_fraction": 0.0}
    assert summary["truncation_warnings"] == []
    test_lines = (project / "out" / "chitchat" / "test.jsonl").read_text().splitlines()
    assert len(test_lines) == 12


def test_prepare_refuses_prompts_with_no_room_and_writes_nothing(tmp_path, monkeypatch):
    project = _project(tmp_path, monkeypatch, max_length=16, max_target_length=8)

    result = CliRunner().invoke(main, ["prepare", "--task", "chitchat", "--out", "out/chitchat"])

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0] == "prepare chitchat: started"  # and no "done" line: the error is the end
    assert len(lines) == 2 and lines[1].startswith("Error: DataError: tasks.chitchat: 42/42 (100.0%) of the train split")
    assert "or accept it with tasks.chitchat.max_truncated_fraction: 1.0" in lines[1]
    assert not (project / "out").exists()
