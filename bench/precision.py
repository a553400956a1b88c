"""Mixed precision: a bf16-autocast training step against fp32, ours and PEFT's, per method.

    python -m bench.precision [--quick] [--repeats N]

Each side's forward runs under ``torch.autocast("cpu", dtype=torch.bfloat16)`` the way accelerate
applies ``mixed_precision="bf16"`` (the forward wrapped, the backward and the AdamW step outside).
Records: ours in bf16 against ours in fp32 (what the default pipeline's bf16 buys) and ours in
bf16 against PEFT in bf16 (parity at that precision). The gain needs a CPU that multiplies bf16
natively (AMX or AVX512-BF16); the first record's note says whether this one does.
Writes ``bench/results/precision.json``.
"""

from __future__ import annotations

from functools import partial

import torch

from bench.common import make_record, parse_args, throughput, time_alternating, write_records
from bench.sides import OURS, PEFT, runnable_steps, train_step
from bench.workloads import Workload
from prefixes.accelerator import cpu_has_native_bf16

BF16_TARGET = "<= 0.9"  # bf16 should save at least a tenth of a step where the CPU has native bf16


def workloads(quick: bool) -> list[Workload]:
    if quick:
        return [Workload("smollm2", batch=2, seq=64), Workload("minilm", batch=4, seq=64)]
    return [Workload("smollm2", batch=8, seq=128), Workload("minilm", batch=8, seq=128)]


def bf16_step(side: str, workload: Workload):
    """``side``'s training step with its forward under bf16 autocast, as accelerate wraps it."""
    step, model = train_step(side, workload, with_model=True)
    model.forward = torch.autocast("cpu", dtype=torch.bfloat16)(model.forward)
    return step


def build_steps(workload: Workload) -> tuple[dict, dict[str, str]]:
    """Per method: ours in fp32 and bf16, PEFT in bf16; and the error of each side that cannot run."""
    makers = {}
    for method in OURS:
        makers[f"{method}.fp32"] = partial(train_step, OURS[method], workload)
        makers[f"{method}.bf16"] = partial(bf16_step, OURS[method], workload)
        makers[f"{method}.peft_bf16"] = partial(bf16_step, PEFT[method], workload)
    return runnable_steps(makers)


def precision_records(workload: Workload, *, warmup: int, repeats: int) -> list[dict]:
    steps, errors = build_steps(workload)
    times = time_alternating(steps, warmup=warmup, repeats=repeats)
    prefix = f"precision.{workload.model}"
    native = cpu_has_native_bf16()
    records = []
    for method in OURS:
        bf16, peft = times[f"{method}.bf16"], times.get(f"{method}.peft_bf16")
        records.append(make_record(f"{prefix}.{method}.bf16_step_vs_fp32", "CPU s", bf16, times[f"{method}.fp32"],
                                   "ours in fp32", target=BF16_TARGET if native else None,
                                   note=f"this CPU {'has' if native else 'lacks'} native bf16 (AMX or AVX512-BF16)"))
        failed = errors.get(f"{method}.peft_bf16")
        records.append(make_record(f"{prefix}.{method}.bf16_tokens_per_s", "tokens/CPU s",
                                   throughput(workload.tokens, bf16), throughput(workload.tokens, peft) if peft else None,
                                   "PEFT in bf16", target=">= 1.0", note=f"PEFT cannot run it: {failed}" if failed else None))
    return records


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(__doc__.splitlines()[0], argv)
    records = []
    for workload in workloads(args.quick):
        records += precision_records(workload, warmup=args.warmup, repeats=args.repeats)
    write_records("precision.json", records, args.results)
    return records


if __name__ == "__main__":
    main()
