"""Which checkpoint a rerun of a train stage resumes from (the kill-and-rerun run is in tests/e2e)."""

from __future__ import annotations

import json

from pipeline.train import _resume_point

IDENTITY = {"data_fingerprint": "abc", "method": "prefix", "training": {"seed": 7}}


def _checkpoint(directory, identity):
    directory.mkdir()
    (directory / "run.json").write_text(json.dumps(identity))
    (directory / "progress.json").write_text(json.dumps({"step": 2}))


def test_a_rerun_resumes_only_a_complete_checkpoint_of_the_same_run(tmp_path, capsys):
    checkpoint = tmp_path / "checkpoint"
    assert _resume_point(checkpoint, IDENTITY) is None
    assert "Starting fresh: no complete checkpoint" in capsys.readouterr().err

    _checkpoint(tmp_path / ".checkpoint.partial", IDENTITY)  # a kill interrupted its swap
    assert _resume_point(checkpoint, IDENTITY) == checkpoint
    assert "Resuming from the checkpoint in" in capsys.readouterr().err

    _checkpoint(checkpoint, {**IDENTITY, "data_fingerprint": "other", "training": {"seed": 8}})
    assert _resume_point(checkpoint, IDENTITY) is None
    assert "belongs to another run (different data_fingerprint, training)" in capsys.readouterr().err
