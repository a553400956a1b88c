"""Dialogue replies with prefix tuning over a frozen SmolLM2-135M (Llama architecture, GQA).

    python examples/text_generation_prefix.py            # a few minutes on 2 CPU cores
    python examples/text_generation_prefix.py --quick    # a handful of steps (CI)

Trains a prefix on message -> reply pairs of the Chit-Chat dataset, compares test perplexity of
the untuned model and the prefixed one on the same prompts, and generates a few replies.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from functools import partial

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader

from prefixes import ModelConfig, PrefixConfig, PrefixTrainer, PrefixTuningModel, TrainingConfig
from prefixes.data import CausalGenerationFormat, collate, load_source, split_examples
from prefixes.evaluate import evaluate_model

# The same template wraps training, evaluation and generation prompts, so the prefix only has to
# learn the reply, not the prompt layout.
TEMPLATE = "User: {source}\nAssistant: "


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a handful of steps on small splits (CI)")
    parser.add_argument("--out", default=None, help="where to save the prefix (default: a temporary folder)")
    return parser.parse_args()


def perplexity(model, features, pad_token_id: int) -> float:
    loader = DataLoader(features, batch_size=16, collate_fn=partial(collate, pad_token_id=pad_token_id))
    return evaluate_model(model, loader, Accelerator(), "text_generation")["eval_perplexity"]


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    sizes = {"train": 48, "eval": 16, "test": 32} if args.quick else {"train": 240, "eval": 48, "test": 64}
    max_length, max_target_length = (48, 16) if args.quick else (64, 24)

    # Real conversations (Chit-Chat, shipped in a PyPI package): message -> the next turn's reply.
    splits = split_examples(load_source("chitchat"), seed=42, eval_fraction=0.05, test_fraction=0.05,
                            max_examples=sizes)

    # Prefix tuning proper: an MLP maps 16 embeddings to every layer's keys/values while training;
    # the saved artifact holds only its folded output. The first call converts the shipped GGUF
    # model once to fp32 under ~/.cache/prefixes.
    model = PrefixTuningModel(
        ModelConfig(model_name_or_path="smollm2", task_type="text_generation"),
        PrefixConfig(prefix_length=16, prefix_hidden_size=256),
    )
    tokenizer = model.tokenizer
    print(f"trainable parameters: {model.num_trainable_parameters():,} of {model.num_base_parameters():,}")

    # Loss on the reply tokens only: the prompt positions are labelled -100.
    data_format = CausalGenerationFormat(tokenizer, max_length, max_target_length, template=TEMPLATE)
    train, _ = data_format.encode(splits["train"])
    dev, _ = data_format.encode(splits["eval"])
    test, _ = data_format.encode(splits["test"])

    # The untuned reference: the frozen base model itself, on the very same templated prompts.
    untuned = perplexity(model.base_model, test, tokenizer.pad_token_id)

    training = TrainingConfig(batch_size=4 if args.quick else 8, num_epochs=1,
                              max_steps=8 if args.quick else None, metric_for_best="eval_perplexity", seed=42)
    result = PrefixTrainer(model, training).train(train, dev)
    print(f"trained {result.global_step} steps in {result.wall_time_s:.1f}s, final train loss {result.train_loss:.3f}")
    tuned = perplexity(model, test, tokenizer.pad_token_id)

    # Batched greedy generation: prompts are left-padded so every reply starts right after its prompt.
    model.eval()
    shown = splits["test"][:3]
    prompts = collate(data_format.encode_prompts(shown), tokenizer.pad_token_id, padding_side="left")
    with torch.no_grad():
        generated = model.generate(**prompts, max_new_tokens=max_target_length, do_sample=False,
                                   pad_token_id=tokenizer.pad_token_id)
    replies = tokenizer.batch_decode(generated[:, prompts["input_ids"].shape[1]:], skip_special_tokens=True)
    for example, reply in zip(shown, replies):
        print(f"  user: {example.text[:70]!r}\n    reference: {example.target[:70]!r}\n    prefix:    {reply.strip()[:70]!r}")

    # save_pretrained: the folded prefix (safetensors + JSON); export_peft: the same prefix in
    # PEFT's format, which peft.PeftModel loads with identical logits.
    out = args.out or tempfile.mkdtemp(prefix="chitchat-prefix-")
    model.save_pretrained(f"{out}/prefix")
    model.export_peft(f"{out}/peft")
    print(f"saved to {out}/prefix and {out}/peft")

    print(f"test perplexity: untuned {untuned:.2f} -> prefix {tuned:.2f} ({len(test)} replies)")
    print(f"total time {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
