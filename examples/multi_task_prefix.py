"""Two tasks, two prefixes, one frozen MiniLM: mixed-task batches and prefix interpolation.

    python examples/multi_task_prefix.py            # a few minutes on 2 CPU cores
    python examples/multi_task_prefix.py --quick    # a handful of steps (CI)

Trains a P-tuning v2 prefix (and head) for BBC News topics and one for IMDB sentiment, bundles both
over a single copy of the base model, answers a batch that mixes the two tasks in one forward
pass, and blends the two prefixes to see how much of each task lives in its prefix.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from prefixes import ModelConfig, MultiTaskModel, PrefixConfig, PrefixTrainer, PrefixTuningModel, TrainingConfig
from prefixes.data import ClassificationFormat, collate, load_source, split_examples
from prefixes.data.formats import classification_inputs

TASKS = ("bbc_news", "imdb")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a handful of steps on small splits (CI)")
    parser.add_argument("--out", default=None, help="where to save the two prefixes (default: a temporary folder)")
    return parser.parse_args()


def train_task(task: str, out: str, quick: bool) -> tuple[list[str], list]:
    """Train one task's prefix and head, save them to ``out``; return its labels and test examples."""
    sizes = {"train": 96, "eval": 32, "test": 64} if quick else {"train": 480, "eval": 100, "test": 200}
    examples = load_source(task)
    labels = sorted({example.label for example in examples})
    splits = split_examples(examples, seed=42, eval_fraction=0.1, test_fraction=0.2, max_examples=sizes)
    torch.manual_seed(42)  # the prefix starts from sampled tokens: same draw every run
    model = PrefixTuningModel(
        ModelConfig(model_name_or_path="minilm", task_type="text_classification",
                    num_labels=len(labels), label_names=labels),
        PrefixConfig(prefix_length=16, reparameterization=False, init="vocab_sample"),
    )
    data_format = ClassificationFormat(model.tokenizer, labels, max_length=64 if quick else 128)
    train, _ = data_format.encode(splits["train"])
    dev, _ = data_format.encode(splits["eval"])
    training = TrainingConfig(batch_size=8, num_epochs=2, max_steps=24 if quick else None, seed=42)
    result = PrefixTrainer(model, training).train(train, dev)
    print(f"{task}: {result.global_step} steps, eval accuracy {result.best_metrics['eval_accuracy']:.3f}")
    model.save_pretrained(out)
    return labels, splits["test"]


@torch.no_grad()
def accuracy(bundle: MultiTaskModel, rows: list, labels: dict, max_length: int, adapter: int | None = None) -> dict[str, float]:
    """Per-task accuracy over a batch that mixes tasks. ``adapter`` forces one prefix for every row
    (each row keeps its own task's head), for interpolated prefixes."""
    correct = {task: 0 for task in TASKS}
    for start in range(0, len(rows), 32):
        chunk = rows[start:start + 32]
        tasks = [task for task, _ in chunk]
        features, _ = classification_inputs(bundle.model.tokenizer, [example for _, example in chunk], max_length)
        batch = collate(features, bundle.model.tokenizer.pad_token_id)
        if adapter is None:
            logits = bundle.classify(tasks, **batch)  # each row: its task's prefix and head
        else:
            with bundle.routed(bundle.task_ids(tasks)):  # heads by task, prefix forced
                forced = torch.full((len(chunk),), adapter)
                logits = list(bundle.model(task_ids=forced, **batch).logits)
        for task, (_, example), row in zip(tasks, chunk, logits):
            correct[task] += labels[task][int(row[: len(labels[task])].argmax())] == example.label
    totals = {task: sum(t == task for t, _ in rows) for task in TASKS}
    return {task: correct[task] / totals[task] for task in TASKS}


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    out = args.out or tempfile.mkdtemp(prefix="multi-task-")
    labels, tests = {}, {}
    for task in TASKS:
        labels[task], tests[task] = train_task(task, f"{out}/{task}", args.quick)

    # One base model in memory, one adapter bank, one routed head per task: the saved artifacts are
    # checked against the base weights' fingerprint as they load.
    bundle = MultiTaskModel.from_artifacts({task: f"{out}/{task}" for task in TASKS}, labels=labels)

    # A mixed batch: bbc and imdb rows interleaved, one forward per 32 rows.
    rows = [row for pair in zip(*[[(task, ex) for ex in tests[task]] for task in TASKS]) for row in pair]
    max_length = 64 if args.quick else 128
    mixed = accuracy(bundle, rows, labels, max_length)
    answers = bundle.predict([{"task": "bbc_news", "text": "The striker scored twice in the cup final."},
                              {"task": "imdb", "text": "A dull, lifeless film; I walked out after an hour."}])
    for answer in answers:
        print(f"  [{answer['task']}] {answer['text']!r} -> {answer['prediction']}")

    # Interpolation: alpha * bbc prefix + (1 - alpha) * imdb prefix, a new adapter in the bank.
    # Each row keeps its own task's head, so only the prefix moves between the two tasks.
    print("alpha  bbc_news acc  imdb acc   (prefix = alpha * bbc + (1 - alpha) * imdb)")
    for alpha in (1.0, 0.5, 0.0):
        name = f"mix{round(100 * alpha)}"  # module names cannot hold a "."
        bundle.model.add_interpolated(name, "0", "1", alpha)
        bundle.model.eval()  # measure without dropout; the new adapter follows the model's mode
        blended = accuracy(bundle, rows, labels, max_length, adapter=bundle.model.adapter_names.index(name))
        print(f"{alpha:5.2f}  {blended['bbc_news']:12.3f}  {blended['imdb']:8.3f}")

    print(f"mixed-batch test accuracy: bbc_news {mixed['bbc_news']:.3f} (5 topics), imdb {mixed['imdb']:.3f} (2 classes)"
          f" over {len(rows)} interleaved rows")
    print(f"total time {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
