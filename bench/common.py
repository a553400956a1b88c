"""Shared benchmark machinery: alternating timing, peak memory in a fresh process, records, reports.

Every comparison times its sides round-robin in one process, so load on a shared machine hits all
sides alike; a ratio's spread is the [min, max] of the per-round ratios. Peak memory is measured
in a fresh subprocess per side (``python -m bench.memory``), because a process's peak RSS only
ever grows and one side's allocations would otherwise hide the next one's. Times are CPU
seconds of the timing process (see ``time_alternating``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parent.parent
RECORD_KEYS = ("name", "unit", "ours", "reference", "reference_name", "ratio", "spread", "target", "holds", "note")


def setup(threads: int = 1) -> None:
    """Fix torch's thread count and silence load reports and warnings that would bury the output.

    One thread by default: on a shared 2-core machine where another process holds a core, two
    OpenMP threads spin at every barrier waiting for the descheduled one (a SmolLM2 step measured
    18 s with two threads against 0.57 s with one), which would measure the scheduler, not the code.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import warnings

    import torch
    import transformers

    torch.set_num_threads(threads)

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    warnings.filterwarnings("ignore")


def time_alternating(steps: dict[str, Callable[[], object]], *, warmup: int, repeats: int) -> dict[str, list[float]]:
    """CPU seconds per call of each step, ``repeats`` rounds after ``warmup`` untimed rounds.

    Each round runs every side once; the starting side rotates between rounds so that no side
    always follows the same neighbour (caches, allocator state, drift). The clock is this
    process's CPU time: with one torch thread it equals the wall time of an idle machine, but
    unlike wall time it does not count the seconds another process holds the core (on the shared
    2-core machine, wall-clock ratios of identical steps ranged 0.74-1.24 within one run).
    """
    names = list(steps)
    for _ in range(warmup):
        for name in names:
            steps[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.process_time()
            steps[name]()
            times[name].append(time.process_time() - start)
    return times


def _significant(value: float, digits: int = 6) -> float:
    return float(f"{value:.{digits}g}")


def make_record(
    name: str,
    unit: str,
    ours: list[float],
    reference: list[float] | None,
    reference_name: str | None,
    *,
    target: str | None = None,
    note: str | None = None,
) -> dict:
    """One result: medians of paired samples, ``ratio = ours / reference`` and the per-round ratio range.

    ``ours[i]`` and ``reference[i]`` come from the same round, so their ratio cancels slow drifts
    of the machine. ``target`` is a bound on the ratio such as ``"<= 1.03"`` or ``">= 0.95"``.
    """
    ours_value = _significant(statistics.median(ours))
    if not reference:
        return dict(zip(RECORD_KEYS, (name, unit, ours_value, None, reference_name, None, None, target, None, note)))
    reference_value = _significant(statistics.median(reference))
    ratio = _significant(ours_value / reference_value)
    per_round = [a / b for a, b in zip(ours, reference)]
    spread = [_significant(min(per_round)), _significant(max(per_round))]
    return dict(
        zip(
            RECORD_KEYS,
            (name, unit, ours_value, reference_value, reference_name, ratio, spread, target, holds(ratio, target), note),
        )
    )


def holds(ratio: float | None, target: str | None) -> bool | None:
    """Whether a ratio meets a target like ``"<= 1.03"``; None when either is missing."""
    if ratio is None or target is None:
        return None
    op, bound = target.split()
    return ratio <= float(bound) if op == "<=" else ratio >= float(bound)


def throughput(count: float, seconds: list[float]) -> list[float]:
    """Items per (CPU) second for each timed call."""
    return [count / s for s in seconds]


def write_records(filename: str, records: list[dict], directory: Path = RESULTS_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    path.write_text(json.dumps(records, indent=2) + "\n")
    return path


def peak_memory(spec: dict) -> dict:
    """Run one measurement (see bench/memory.py) in a fresh interpreter and return its result."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.memory", json.dumps(spec)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"memory measurement {spec} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def markdown_table(records: list[dict]) -> str:
    """Records as a markdown table, with notes listed under it."""
    lines = [
        "| benchmark | unit | ours | reference | reference is | ratio | spread | target | holds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for r in records:
        spread = f"{r['spread'][0]:.3f}–{r['spread'][1]:.3f}" if r["spread"] else ""
        verdict = {True: "yes", False: "**no**", None: ""}[r["holds"]]
        name = r["name"]
        if r.get("note"):
            notes.append(f"{len(notes) + 1}. `{name}`: {r['note']}")
            name += f" [{len(notes)}]"
        lines.append(
            f"| {name} | {r['unit']} | {_fmt(r['ours'])} | {_fmt(r['reference'])} | {r['reference_name'] or ''} "
            f"| {_fmt(r['ratio'], 3)} | {spread} | {r['target'] or ''} | {verdict} |"
        )
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def _fmt(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}g}"


def parse_args(description: str, argv: list[str] | None = None):
    """The options every benchmark script shares; ``--quick`` shrinks shapes and repeats."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small batches and sequences, fewer repeats (minutes)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1; see bench/README.md)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds before timing")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds (default 3, quick 2)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="folder for the JSON results")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 2 if args.quick else 3
    setup(args.threads)
    return args
