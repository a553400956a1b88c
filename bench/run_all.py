"""Run every model benchmark and write ``bench/results/RESULTS.md`` from their JSON results.

    python -m bench.run_all [--quick] [--repeats N] [--no-memory] [--only train,serving]
    python -m bench.run_all --report-only      # rebuild RESULTS.md from the JSON files

``--quick`` finishes in minutes; the full run (batch 8, sequence 128 on SmolLM2) takes much
longer on two CPU cores. The registry benchmark (bench/registry_bench.py) runs on its own.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import peft
import torch
import transformers

from bench import checkpointing, inference, length_grouping, precision, serving, train_step
from bench.common import RESULTS_DIR, markdown_table

BENCHMARKS = {
    "train": (train_step, "train.json", "Training: step time, tokens/s, peak memory"),
    "precision": (precision, "precision.json", "Mixed precision: bf16 autocast against fp32, and against PEFT in bf16"),
    "checkpointing": (checkpointing, "checkpointing.json", "Gradient checkpointing (prefix tuning, SmolLM2)"),
    "inference": (inference, "inference.json", "Inference: forward latency and generation"),
    "serving": (serving, "serving.json", "Multi-task serving: one mixed batch against per-task batches"),
    "length_grouping": (length_grouping, "length_grouping.json",
                        "Length-grouped training batches against shuffled ones (MiniLM, drug reviews)"),
}


def report(command: str, directory: Path) -> str:
    """RESULTS.md: one table per benchmark whose JSON exists, then the targets that were missed."""
    sections, missed = [], []
    for _, filename, title in BENCHMARKS.values():
        path = directory / filename
        if not path.exists():
            continue
        records = json.loads(path.read_text())
        sections.append(f"## {title}\n\n`{filename}`\n\n{markdown_table(records)}")
        missed += [f"- `{r['name']}`: {r['ratio']:.3f} (target {r['target']})" for r in records if r["holds"] is False]
    header = (
        "# Benchmark results\n\n"
        f"`{command}` — {time.strftime('%Y-%m-%d %H:%M')}, {platform.processor() or platform.machine()}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} thread(s)), transformers {transformers.__version__}, "
        f"peft {peft.__version__}.\n\n"
        "ratio = ours / reference (medians); spread = [min, max] of the per-round ratios; each round "
        "runs every side once, alternating. Times are CPU seconds of one torch thread. Lower is better "
        "for CPU s and MiB, higher for tokens/CPU s and requests/CPU s. "
        "Memory is one fresh process per side (spread is then a single value). "
        "See bench/README.md for how to read these.\n"
    )
    summary = "## Missed targets\n\n" + ("\n".join(missed) if missed else "None.") + "\n"
    return "\n".join([header, *sections, summary])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset of " + ", ".join(BENCHMARKS))
    parser.add_argument("--report-only", action="store_true", help="only rebuild RESULTS.md from the JSON results")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="folder of the JSON results and RESULTS.md")
    args, rest = parser.parse_known_args(argv)
    rest += ["--results", str(args.results)]
    if not args.report_only:
        for name in args.only.split(","):
            start = time.perf_counter()
            BENCHMARKS[name][0].main(rest)
            print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)
    command = "python -m bench.run_all " + " ".join(sys.argv[1:] if argv is None else argv)
    (args.results / "RESULTS.md").write_text(report(command.strip(), args.results))


if __name__ == "__main__":
    main()
