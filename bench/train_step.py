"""Training benchmarks: step time, tokens/s and peak memory, ours against PEFT and two references.

    python -m bench.train_step [--quick] [--repeats N] [--no-memory]

For SmolLM2 (causal LM) and MiniLM (5-way classification), each method (prefix tuning with its
MLP, P-tuning v2 "flat", prompt tuning) runs as ours and as PEFT 0.21's equivalent, next to the
bare floor (frozen model, backward to the input embeddings, no prefix) and a full fine-tuning
step. Writes ``bench/results/train.json``.
"""

from __future__ import annotations

from functools import partial

from bench.common import make_record, parse_args, peak_memory, throughput, time_alternating, write_records
from bench.sides import OURS, PEFT, TRAIN_SIDES, runnable_steps, train_step
from bench.workloads import Workload

# Targets on ours / bare floor step time, per method.
FLOOR_TARGETS = {"prefix": "<= 1.03", "flat": "<= 1.02", "prompt": "<= 1.17"}
FULL_TARGETS = {"prefix": "<= 0.75", "flat": "<= 0.75"}
REFERENCE_NAMES = {"bare": "bare floor", "full": "full fine-tuning"}
# (measurement key, record label, unit, target on ours / PEFT)
MEMORY_RECORDS = (
    ("peak_rss_mib", "peak_rss", "MiB peak RSS", "<= 1.0"),
    ("step_mib", "step_memory", "MiB over built model", None),
    ("saved_mib", "saved_for_backward", "MiB saved for backward", "<= 1.0"),
)


def workloads(quick: bool) -> list[Workload]:
    if quick:
        return [Workload("smollm2", batch=2, seq=64), Workload("minilm", batch=4, seq=64)]
    return [Workload("smollm2", batch=8, seq=128), Workload("minilm", batch=8, seq=128)]


def build_steps(workload: Workload, sides: tuple[str, ...]) -> tuple[dict, dict[str, str]]:
    """Step callables of the sides that run, and the error of each side that cannot."""
    return runnable_steps({side: partial(train_step, side, workload) for side in sides})


def measure_memory(workload: Workload, sides) -> dict[str, dict]:
    return {side: peak_memory({"workload": workload.to_dict(), "side": side}) for side in sides}


def train_records(
    workload: Workload, *, warmup: int, repeats: int, memory: bool, sides: tuple[str, ...] = TRAIN_SIDES
) -> list[dict]:
    steps, errors = build_steps(workload, sides)
    times = time_alternating(steps, warmup=warmup, repeats=repeats)
    mem = measure_memory(workload, steps) if memory else {}
    prefix = f"train.{workload.model}"
    records = []
    for method, ours in OURS.items():
        if ours not in times:
            continue
        peft = PEFT[method]
        note = f"PEFT cannot run it: {errors[peft]}" if peft in errors else None
        records.append(
            make_record(f"{prefix}.{method}.tokens_per_s", "tokens/CPU s", throughput(workload.tokens, times[ours]),
                        throughput(workload.tokens, times[peft]) if peft in times else None, "PEFT",
                        target=">= 1.0", note=note)
        )
        for ref in ("bare", "full"):
            if ref in times:
                target = (FLOOR_TARGETS if ref == "bare" else FULL_TARGETS).get(method)
                records.append(make_record(f"{prefix}.{method}.step_vs_{ref}", "CPU s", times[ours], times[ref],
                                           REFERENCE_NAMES[ref], target=target))
        if mem:
            for key, label, unit, target in MEMORY_RECORDS:
                reference = [mem[peft][key]] if peft in mem else None
                records.append(make_record(f"{prefix}.{method}.{label}", unit, [mem[ours][key]],
                                           reference, "PEFT", target=target, note=note))
    for ref in ("bare", "full"):
        if ref in times:
            records.append(make_record(f"{prefix}.{ref}.step_time", "CPU s", times[ref], None, None,
                                       note=f"the {REFERENCE_NAMES[ref]} reference itself (batch {workload.batch}, "
                                            f"sequence {workload.seq})"))
        if ref in mem:
            records.append(make_record(f"{prefix}.{ref}.peak_rss", "MiB peak RSS", [mem[ref]["peak_rss_mib"]], None, None,
                                       note=f"the {REFERENCE_NAMES[ref]} reference itself"))
    return records


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(__doc__.splitlines()[0], argv)
    records = []
    for workload in workloads(args.quick):
        records += train_records(workload, warmup=args.warmup, repeats=args.repeats, memory=not args.no_memory)
    write_records("train.json", records, args.results)
    return records


if __name__ == "__main__":
    main()
