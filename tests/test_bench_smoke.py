"""Smoke test of the benchmark suite: timing helpers and one tiny training benchmark, end to end."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

# bench/ is a folder of scripts beside the package, not installed: import it from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import RECORD_KEYS, make_record, markdown_table, peak_memory, time_alternating  # noqa: E402
from bench.precision import precision_records  # noqa: E402
from bench.train_step import train_records  # noqa: E402
from bench.workloads import Workload  # noqa: E402

TINY = Workload("tiny", batch=2, seq=8, prefix=4)


def check_record(record: dict) -> None:
    assert tuple(record) == RECORD_KEYS
    assert isinstance(record["name"], str) and isinstance(record["unit"], str)
    assert record["ours"] > 0
    if record["reference"] is None:
        assert record["ratio"] is None and record["spread"] is None
        return
    assert record["ratio"] == pytest.approx(record["ours"] / record["reference"], rel=1e-5)
    low, high = record["spread"]
    assert low <= high


def busy(seconds: float) -> None:
    """Spend CPU time: the benchmarks time with the process's CPU clock, which sleeping does not advance."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_time_alternating_rotates_and_times_every_side():
    order = []
    steps = {name: (lambda name=name: order.append(name) or busy(0.001)) for name in "abc"}
    times = time_alternating(steps, warmup=1, repeats=3)
    assert order == list("abc") + list("abc") + list("bca") + list("cab")
    assert {name: len(t) for name, t in times.items()} == {"a": 3, "b": 3, "c": 3}
    assert all(t >= 0.001 for samples in times.values() for t in samples)


def test_record_ratio_spread_and_target():
    record = make_record("x", "s", [2.0, 3.0, 4.0], [1.0, 2.0, 2.0], "ref", target="<= 1.5")
    check_record(record)
    assert (record["ours"], record["reference"], record["ratio"]) == (3.0, 2.0, 1.5)
    assert record["spread"] == [1.5, 2.0]  # per-round ratios 2.0, 1.5, 2.0
    assert record["holds"] is True
    assert make_record("y", "tokens/s", [1.0], [2.0], "ref", target=">= 0.95")["holds"] is False
    check_record(make_record("z", "s", [1.0], None, "PEFT", note="PEFT cannot run it"))


def test_tiny_training_benchmark_end_to_end():
    records = train_records(TINY, warmup=1, repeats=2, memory=False, sides=("ours_prefix", "peft_prefix", "bare"))
    names = [r["name"] for r in records]
    assert names == ["train.tiny.prefix.tokens_per_s", "train.tiny.prefix.step_vs_bare", "train.tiny.bare.step_time"]
    for record in records:
        check_record(record)
    assert records[0]["reference_name"] == "PEFT" and records[0]["spread"] is not None
    table = markdown_table(records)
    assert table.count("\n| train.tiny.") == 3


def test_tiny_precision_benchmark_runs_bf16_against_fp32_and_peft():
    records = precision_records(TINY, warmup=0, repeats=2)
    assert [r["name"] for r in records] == [
        f"precision.tiny.{method}.{what}" for method in ("prefix", "flat", "prompt")
        for what in ("bf16_step_vs_fp32", "bf16_tokens_per_s")
    ]
    for record in records:
        check_record(record)
    assert {r["reference_name"] for r in records} == {"ours in fp32", "PEFT in bf16"}


def test_peak_memory_runs_in_a_fresh_process():
    result = peak_memory({"workload": TINY.to_dict(), "side": "ours_prefix"})
    assert result["peak_rss_mib"] > result["step_mib"] > result["saved_mib"] > 0


def test_dev_sh_bench_runs_the_suite_as_a_package(tmp_path):
    # `bash dev.sh bench` once ran `python bench/run_all.py`, where `import bench` fails.
    root = Path(__file__).resolve().parent.parent
    shutil.copy(root / "bench" / "results" / "inference.json", tmp_path)
    result = subprocess.run(["bash", "dev.sh", "bench", "--report-only", "--results", str(tmp_path)],
                            cwd=root, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    report = (tmp_path / "RESULTS.md").read_text()
    assert "inference.smollm2.generate_tokens_per_s" in report
