"""Inference benchmarks: forward latency and generation tokens/s with a prefix against the bare model.

    python -m bench.inference [--quick] [--repeats N]

Ours runs a flat prefix, the form inference artifacts load (a trained MLP is folded into one);
PEFT's flat prefix tuning is timed alongside as a second reference; generation is also timed
against ours prepending the prefix at every attention call instead of prefilling the cache. Writes
``bench/results/inference.json``.
"""

from __future__ import annotations

import torch

from bench.common import make_record, parse_args, throughput, time_alternating, write_records
from bench.sides import build
from bench.workloads import Workload
from prefixes.inject.generate import takes_prefilled_cache

# Forward latency is per request (batch 1, sequence 128); more rounds because each call is short.
LATENCY_ROUNDS = 3
SIDES = {"ours": "ours_flat", "bare": "bare", "peft": "peft_flat"}


def settings(quick: bool) -> dict:
    if quick:
        return {"forward": Workload("smollm2", batch=1, seq=64), "generate": Workload("smollm2", batch=2, seq=16),
                "new_tokens": 8}
    return {"forward": Workload("smollm2", batch=1, seq=128), "generate": Workload("smollm2", batch=8, seq=32),
            "new_tokens": 32}


def eval_models(workload: Workload) -> dict[str, torch.nn.Module]:
    models = {label: build(side, workload) for label, side in SIDES.items()}
    for model in models.values():
        model.eval()
    return models


def forward_calls(models: dict, workload: Workload) -> dict:
    batch = workload.inputs()
    del batch["labels"]

    def call(model):
        def run():
            with torch.no_grad():
                model(**batch)

        return run

    return {label: call(model) for label, model in models.items()}


def generate_calls(models: dict, workload: Workload, new_tokens: int) -> dict:
    batch = workload.inputs()
    del batch["labels"]
    # Greedy and exactly new_tokens long on every side, whatever tokens come out.
    options = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "do_sample": False, "pad_token_id": 0}

    def call(model, **extra):
        return lambda: model.generate(**batch, **options, **extra)

    calls = {label: call(model) for label, model in models.items()}
    # Ours again with the prefix prepended at every attention call: what the prefilled cache saves.
    calls["ours_concatenating"] = call(models["ours"], prefix_in_cache=False)
    return calls


def generation_path(model, batch: dict) -> str:
    """Which path ours generates through, named in the records' notes."""
    if takes_prefilled_cache(model.base_model, model.attachment, batch):
        return "prefix prefilled in the KV cache"
    return "prefix prepended at every attention call"


def inference_records(setting: dict, *, warmup: int, repeats: int) -> list[dict]:
    forward, generate, new_tokens = setting["forward"], setting["generate"], setting["new_tokens"]
    records = []
    models = eval_models(forward)
    times = time_alternating(forward_calls(models, forward), warmup=warmup, repeats=repeats * LATENCY_ROUNDS)
    name = f"inference.{forward.model}"
    shape = f"batch {forward.batch}, sequence {forward.seq}, prefix {forward.prefix}"
    records.append(make_record(f"{name}.forward_latency", "CPU s", times["ours"], times["bare"], "bare model",
                               target="<= 1.05", note=shape))
    records.append(make_record(f"{name}.forward_latency_vs_peft", "CPU s", times["ours"], times["peft"], "PEFT", note=shape))
    times = time_alternating(generate_calls(models, generate, new_tokens), warmup=warmup, repeats=repeats)
    count = generate.batch * new_tokens
    path = generation_path(models["ours"], generate.inputs())
    shape = f"batch {generate.batch}, prompt {generate.seq}, {new_tokens} new tokens, greedy; {path}"
    records.append(make_record(f"{name}.generate_tokens_per_s", "tokens/CPU s", throughput(count, times["ours"]),
                               throughput(count, times["bare"]), "bare model", target=">= 0.97", note=shape))
    records.append(make_record(f"{name}.generate_tokens_per_s_vs_peft", "tokens/CPU s", throughput(count, times["ours"]),
                               throughput(count, times["peft"]), "PEFT", note=shape))
    records.append(make_record(f"{name}.generate_tokens_per_s_vs_concatenating", "tokens/CPU s",
                               throughput(count, times["ours"]), throughput(count, times["ours_concatenating"]),
                               "ours prepending the prefix at every attention call", note=shape))
    return records


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(__doc__.splitlines()[0], argv)
    records = inference_records(settings(args.quick), warmup=args.warmup, repeats=args.repeats)
    write_records("inference.json", records, args.results)
    return records


if __name__ == "__main__":
    main()
