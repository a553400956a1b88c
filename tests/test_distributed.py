"""`accelerate launch` with 2 CPU processes gives the same metrics as one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def _launch(tmp_path: Path, processes: int, batch_size: int, *extra: str) -> dict:
    output = tmp_path / f"{processes}.json"
    # accelerate 1.15 starts several CPU processes only through mpirun; torch's launcher sets up
    # the same gloo process group, which the Accelerator detects.
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes),
               "--master_port", "29517", str(HERE / "distributed_worker.py"), str(output), str(batch_size), *extra]
    # The checkout's root too: the workers must run this checkout's library, not an installed copy.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent)]), "OMP_NUM_THREADS": "1",
           "ACCELERATE_USE_CPU": "true"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(output.read_text())


def test_two_processes_match_one(tmp_path):
    # 2 processes x 4 examples = 1 process x 8 examples: the same global batches, in the same order.
    single = _launch(tmp_path, 1, batch_size=8)
    double = _launch(tmp_path, 2, batch_size=4)
    assert (single["processes"], double["processes"]) == (1, 2)
    assert [row["eval_examples"] for row in double["eval"]] == [13]
    for one, two in zip(single["eval"], double["eval"], strict=True):
        for key in ("eval_loss", "eval_perplexity", "eval_tokens"):
            assert two[key] == pytest.approx(one[key], rel=1e-5), key
    for one, two in zip(single["train"], double["train"], strict=True):
        assert two["loss"] == pytest.approx(one["loss"], rel=1e-5)


def test_two_processes_match_one_with_length_grouped_batches(tmp_path):
    # Rows of 4-10 tokens grouped by length: groups are global batches, so each step trains the same examples.
    single = _launch(tmp_path, 1, 8, "grouped")
    double = _launch(tmp_path, 2, 4, "grouped")
    for one, two in zip(single["train"], double["train"], strict=True):
        assert two["loss"] == pytest.approx(one["loss"], rel=1e-5)
    for key in ("eval_loss", "eval_tokens"):
        assert double["eval"][-1][key] == pytest.approx(single["eval"][-1][key], rel=1e-5), key
