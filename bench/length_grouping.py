"""Length-grouped training batches against shuffled ones: padding, epoch time and what the model learns.

    python -m bench.length_grouping [--quick] [--repeats N]

P-tuning v2 (flat prefix, 20 tokens) on MiniLM, 3-way sentiment of drug reviews (the pipeline's
``drug_reviews`` task: max_length 128, batch 8). Each round trains one epoch through the
``Trainer`` on each side, alternating; both sides start from the same weights and see the same
examples, only the order differs. After the timed rounds both models are evaluated on held-out
reviews, so the record shows whether grouping changed what was learned. Writes
``bench/results/length_grouping.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from accelerate import Accelerator
from transformers import AutoModelForSequenceClassification

from bench.common import make_record, parse_args, throughput, time_alternating, write_records
from prefixes import PrefixConfig, PrefixTuningModel
from prefixes.base_models import load_tokenizer, resolve_model_path
from prefixes.config import TrainingConfig
from prefixes.data import ClassificationFormat, collate, load_source
from prefixes.data.packaged import DRUG_REVIEW_LABELS
from prefixes.evaluate import evaluate_model
from prefixes.sampling import epoch_loader, example_lengths
from prefixes.train import Trainer

BATCH, MAX_LENGTH, PREFIX = 8, 128, 20
SIDES = {"grouped": True, "shuffled": False}


def drug_review_features(tokenizer, split: str, count: int) -> list[dict]:
    examples = load_source("drug_reviews", split=split, limit=count)
    return ClassificationFormat(tokenizer, list(DRUG_REVIEW_LABELS), MAX_LENGTH).encode(examples)[0]


def padding_share(rows: list[dict], group_by_length: bool, batch_size: int = BATCH) -> float:
    """Pad tokens over all tokens the model sees in one epoch (seed 0) of this order."""
    lengths = example_lengths(rows)
    loader = epoch_loader(list(range(len(rows))), batch_size=batch_size, seed=0, epoch=0, collate_fn=list,
                          lengths=lengths if group_by_length else None)
    padded = sum(max(lengths[i] for i in batch) * len(batch) for batch in loader)
    return (padded - sum(lengths)) / padded


def minilm_prefix_model(tokenizer) -> PrefixTuningModel:
    torch.manual_seed(0)  # the same fresh head and prefix on both sides
    base = AutoModelForSequenceClassification.from_pretrained(resolve_model_path("minilm"),
                                                              num_labels=len(DRUG_REVIEW_LABELS))
    config = PrefixConfig(prefix_length=PREFIX, reparameterization=False, prefix_dropout=0.0)
    return PrefixTuningModel.from_model(base, config, task_type="text_classification", tokenizer=tokenizer)


def epoch_runner(model, rows: list[dict], group_by_length: bool, pad_id: int) -> Callable[[], object]:
    """One training epoch of ``model`` over ``rows`` through the Trainer, per call."""
    config = TrainingConfig(batch_size=BATCH, num_epochs=1, seed=0, log_every=10**6, learning_rate=1e-2,
                            warmup_ratio=0.0, group_by_length=group_by_length)
    collate_fn = partial(collate, pad_token_id=pad_id)
    return lambda: Trainer(model, config, collate_fn=collate_fn).train(rows)


def evaluation(model, rows: list[dict], pad_id: int) -> dict[str, float]:
    loader = torch.utils.data.DataLoader(rows, batch_size=32, collate_fn=partial(collate, pad_token_id=pad_id))
    return evaluate_model(model, loader, Accelerator(), "text_classification", len(DRUG_REVIEW_LABELS))


def grouping_records(models: dict, train_rows: list[dict], eval_rows: list[dict], pad_id: int, *,
                     warmup: int, repeats: int, prefix: str) -> list[dict]:
    """Records of grouped against shuffled epochs; ``models`` holds one fresh model per side of ``SIDES``."""
    epochs = {side: epoch_runner(models[side], train_rows, SIDES[side], pad_id) for side in SIDES}
    times = time_alternating(epochs, warmup=warmup, repeats=repeats)
    trained = warmup + repeats
    quality = {side: evaluation(models[side], eval_rows, pad_id) for side in SIDES}
    real_tokens = sum(example_lengths(train_rows))
    shape = f"{len(train_rows)} examples, batch {BATCH}"
    return [
        make_record(f"{prefix}.padding_share", "pad tokens / token", [padding_share(train_rows, True)],
                    [padding_share(train_rows, False)], "shuffled batches", note=f"one epoch's order, {shape}"),
        make_record(f"{prefix}.epoch_time", "CPU s", times["grouped"], times["shuffled"], "shuffled batches",
                    target="<= 1.0", note=f"one Trainer epoch, {shape}"),
        make_record(f"{prefix}.real_tokens_per_s", "tokens/CPU s", throughput(real_tokens, times["grouped"]),
                    throughput(real_tokens, times["shuffled"]), "shuffled batches", target=">= 1.0",
                    note="unpadded tokens trained per CPU second"),
        make_record(f"{prefix}.eval_loss", "loss", [quality["grouped"]["eval_loss"]], [quality["shuffled"]["eval_loss"]],
                    "shuffled batches", note=f"after {trained} epochs from the same weights, {len(eval_rows)} "
                                             "held-out examples; one seed: read a gap against seed-to-seed spread"),
        make_record(f"{prefix}.eval_accuracy", "accuracy", [quality["grouped"]["eval_accuracy"]],
                    [quality["shuffled"]["eval_accuracy"]], "shuffled batches",
                    note=f"macro-F1 grouped {quality['grouped']['eval_macro_f1']:.4f}, "
                         f"shuffled {quality['shuffled']['eval_macro_f1']:.4f}"),
    ]


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(__doc__.splitlines()[0], argv)
    tokenizer = load_tokenizer("minilm")
    train_rows = drug_review_features(tokenizer, "train", 96 if args.quick else 480)
    eval_rows = drug_review_features(tokenizer, "test", 64 if args.quick else 190)
    models = {side: minilm_prefix_model(tokenizer) for side in SIDES}
    records = grouping_records(models, train_rows, eval_rows, tokenizer.pad_token_id, warmup=args.warmup,
                               repeats=args.repeats, prefix="length_grouping.minilm.drug_reviews")
    write_records("length_grouping.json", records, args.results)
    return records


if __name__ == "__main__":
    main()
