"""Multi-task serving: requests for several tasks served as one mixed batch against per-task batches.

    python -m bench.serving [--quick] [--repeats N]

Ours serves all requests in one call, each example picking its task's prefix (``task_ids``).
PEFT holds one prefix-tuning adapter per task and must switch the active adapter, running one
sub-batch per task. Our own model switching adapters per sub-batch is timed too, which separates
what mixed batching buys from everything else. MiniLM classification has no PEFT side (PEFT's
prefix tuning cannot run on BERT under transformers 5), so there ours mixed is compared against
ours switching. All prefixes are flat: the form served adapters take. Writes
``bench/results/serving.json``.
"""

from __future__ import annotations

import torch
from peft import get_peft_model

from bench.common import make_record, parse_args, throughput, time_alternating, write_records
from bench.inference import generation_path
from bench.sides import build, failure, peft_config
from bench.workloads import Workload

TASK_COUNTS = (4, 8)
MIXED_TARGET = {4: ">= 1.8", 8: ">= 2.0"}  # ours mixed / PEFT switching, generation


def settings(quick: bool) -> dict:
    if quick:
        return {"per_task": 2, "generate": Workload("smollm2", batch=1, seq=16), "new_tokens": 8,
                "classify": Workload("minilm", batch=1, seq=64)}
    return {"per_task": 8, "generate": Workload("smollm2", batch=1, seq=32), "new_tokens": 16,
            "classify": Workload("minilm", batch=1, seq=128)}


def requests(workload: Workload, tasks: int, per_task: int) -> tuple[dict, torch.Tensor]:
    """``tasks * per_task`` requests in shuffled task order, and each request's task index."""
    batch = workload.inputs(batch=tasks * per_task)
    del batch["labels"]
    order = torch.randperm(tasks * per_task, generator=torch.Generator().manual_seed(workload.seed))
    task_ids = torch.arange(tasks).repeat_interleave(per_task)[order]  # (tasks * per_task,)
    return batch, task_ids


def ours_with_tasks(workload: Workload, tasks: int):
    model = build("ours_flat", workload)
    for i in range(1, tasks):
        model.add_adapter(f"task{i}")
    return model.eval()


def peft_with_tasks(workload: Workload, tasks: int):
    model = get_peft_model(workload.load(), peft_config("flat", workload), adapter_name="task0")
    for i in range(1, tasks):
        model.add_adapter(f"task{i}", peft_config("flat", workload))
    return model.eval()


def serving_calls(workload: Workload, tasks: int, per_task: int, run, peft: bool) -> dict:
    """Callables serving every request once: ``run(model, batch, task_ids)`` does one model call."""
    batch, task_ids = requests(workload, tasks, per_task)
    ours = ours_with_tasks(workload, tasks)
    subsets = [(task_ids == t).nonzero().squeeze(1) for t in range(tasks)]

    def mixed():
        run(ours, batch, task_ids)

    def switching(model, select):
        def serve():
            for t, rows in enumerate(subsets):
                select(model, t)
                run(model, {k: v[rows] for k, v in batch.items()}, None)

        return serve

    def select_ours(model, t):
        model.active_adapter = model.adapter_names[t]

    calls = {"mixed": mixed, "ours_switching": switching(ours, select_ours)}
    if peft:
        calls["peft_switching"] = switching(peft_with_tasks(workload, tasks), lambda m, t: m.set_adapter(f"task{t}"))
    return calls


def generate_run(new_tokens: int):
    options = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "do_sample": False, "pad_token_id": 0}

    def run(model, batch, task_ids):
        extra = {} if task_ids is None else {"task_ids": task_ids}
        model.generate(**batch, **options, **extra)

    return run


@torch.no_grad()
def classify_run(model, batch, task_ids):
    model(**batch, **({} if task_ids is None else {"task_ids": task_ids}))


def peft_classification_error(workload: Workload) -> str:
    try:
        peft_with_tasks(workload, 1)(**workload.inputs(batch=1))
    except Exception as error:  # noqa: BLE001 - the refusal is the result
        return failure(error)
    return "PEFT ran"


def serving_records(setting: dict, *, warmup: int, repeats: int, task_counts=TASK_COUNTS) -> list[dict]:
    per_task, new_tokens = setting["per_task"], setting["new_tokens"]
    records = []
    generate, classify = setting["generate"], setting["classify"]
    path = generation_path(ours_with_tasks(generate, 1), generate.inputs(batch=1))
    for tasks in task_counts:
        times = time_alternating(serving_calls(generate, tasks, per_task, generate_run(new_tokens), peft=True),
                                 warmup=warmup, repeats=repeats)
        count = tasks * per_task * new_tokens
        shape = f"{tasks} tasks x {per_task} requests, prompt {generate.seq}, {new_tokens} new tokens, greedy; {path}"
        name = f"serving.{generate.model}.generate.{tasks}_tasks"
        mixed = throughput(count, times["mixed"])
        records.append(make_record(name, "tokens/CPU s", mixed, throughput(count, times["peft_switching"]),
                                   "PEFT switching adapters", target=MIXED_TARGET.get(tasks), note=shape))
        records.append(make_record(f"{name}_vs_ours_switching", "tokens/CPU s", mixed,
                                   throughput(count, times["ours_switching"]), "ours switching adapters", note=shape))
    if classify is not None:
        error = peft_classification_error(classify)
        for tasks in task_counts:
            times = time_alternating(serving_calls(classify, tasks, per_task, classify_run, peft=False),
                                     warmup=warmup, repeats=repeats)
            count = tasks * per_task
            records.append(make_record(
                f"serving.{classify.model}.classify.{tasks}_tasks", "requests/CPU s", throughput(count, times["mixed"]),
                throughput(count, times["ours_switching"]), "ours switching adapters",
                note=f"{tasks} tasks x {per_task} requests, sequence {classify.seq}; no PEFT side: {error}",
            ))
    return records


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(__doc__.splitlines()[0], argv)
    records = serving_records(settings(args.quick), warmup=args.warmup, repeats=args.repeats)
    write_records("serving.json", records, args.results)
    return records


if __name__ == "__main__":
    main()
