"""Gradient checkpointing: prefix-tuning step time and peak memory with it on and off.

    python -m bench.checkpointing [--quick] [--repeats N] [--no-memory]

Ours (prefix tuning with the MLP, SmolLM2) with checkpointing is compared against ours without;
PEFT's prefix tuning refuses checkpointing, and its error message is recorded. Writes
``bench/results/checkpointing.json``.
"""

from __future__ import annotations

from bench.common import make_record, parse_args, peak_memory, time_alternating, write_records
from bench.sides import failure, train_step
from bench.workloads import Workload

OFF = "ours, checkpointing off"


def workload(quick: bool) -> Workload:
    return Workload("smollm2", batch=2, seq=64) if quick else Workload("smollm2", batch=8, seq=128)


def peft_error(workload: Workload) -> str:
    """What PEFT says when asked for prefix tuning with gradient checkpointing (or that it ran)."""
    try:
        train_step("peft_prefix", workload, checkpointing=True)()
    except Exception as error:  # noqa: BLE001 - the refusal is the result
        return failure(error)
    return "PEFT ran with gradient checkpointing"


def checkpointing_records(workload: Workload, *, warmup: int, repeats: int, memory: bool) -> list[dict]:
    steps = {flag: train_step("ours_prefix", workload, checkpointing=flag) for flag in (True, False)}
    times = time_alternating(steps, warmup=warmup, repeats=repeats)
    name = f"checkpointing.{workload.model}.prefix"
    records = [make_record(f"{name}.step_time", "CPU s", times[True], times[False], OFF)]
    if memory:
        mem = {
            flag: peak_memory({"workload": workload.to_dict(), "side": "ours_prefix", "checkpointing": flag})
            for flag in (True, False)
        }
        records.append(make_record(f"{name}.peak_rss", "MiB peak RSS", [mem[True]["peak_rss_mib"]],
                                   [mem[False]["peak_rss_mib"]], OFF))
        records.append(make_record(f"{name}.step_memory", "MiB over built model", [mem[True]["step_mib"]],
                                   [mem[False]["step_mib"]], OFF))
    records.append(make_record(f"{name}.peft", "CPU s", times[True], None, "PEFT",
                               note=f"PEFT prefix tuning with gradient checkpointing: {peft_error(workload)}"))
    return records


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(__doc__.splitlines()[0], argv)
    records = checkpointing_records(workload(args.quick), warmup=args.warmup, repeats=args.repeats,
                                    memory=not args.no_memory)
    write_records("checkpointing.json", records, args.results)
    return records


if __name__ == "__main__":
    main()
