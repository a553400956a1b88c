"""What the pipeline's stages do, as library functions: train a (task, method) run, evaluate it.

Each function takes validated params and paths and returns plain data; the click commands in
``pipeline/`` only parse arguments and call these.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader

from prefixes import metrics
from prefixes.base_models import load_base_model
from prefixes.baselines import BaselineModel
from prefixes.config import ModelConfig
from prefixes.data import CausalGenerationFormat, collate
from prefixes.evaluate import evaluate_model
from prefixes.model import load_adapter
from prefixes.params import PROMPT_METHODS, Params
from prefixes.tasks import TASK_TYPE_BY_FORMAT, build_model, read_prepared, task_format
from prefixes.train import BEST_DIR, PrefixTrainer, PromptTrainer, Trainer

TRAIN_SUMMARY = "train.json"


def _virtual_tokens(model) -> int:
    adapters = getattr(model, "adapters", {})
    return max((adapter.length for adapter in adapters.values()), default=0)


def _encode(task, model, label_names, splits: dict) -> tuple[dict, dict]:
    """Tokenise the splits; absolute-position encoders lose room to the virtual tokens."""
    fmt = task_format(task, model.tokenizer, label_names)
    limit = getattr(model.base_model.config, "max_position_embeddings", None)
    reserved = _virtual_tokens(model)
    if limit is not None and task.max_length + reserved > limit:
        raise ValueError(
            f"max_length {task.max_length} + {reserved} virtual tokens exceeds the model's "
            f"{limit} positions: lower tasks.*.max_length to at most {limit - reserved}"
        )
    encoded, reports = {}, {}
    for name, examples in splits.items():
        encoded[name], report = fmt.encode(examples)
        reports[name] = {"examples": report.total, "truncated": report.truncated, "max_length": report.max_length}
    return encoded, reports


def train_run(params: Params, task_name: str, method: str, data_dir: str | Path, output_dir: str | Path,
              test_metrics_path: str | Path | None = None) -> dict:
    """Train one task with one method (or baseline); write the artifact, logs and a summary.

    Baselines are not prefix artifacts the evaluate stage can load, so they are tested here, on
    the model in memory, when ``test_metrics_path`` is given.
    """
    task = params.tasks[task_name]
    output_dir = Path(output_dir)
    summary, splits = read_prepared(data_dir)
    label_names = summary.get("label_names")
    model_path = params.models[task.model]
    torch.manual_seed(params.seed)  # adapter initialisation is part of the run's determinism
    if method in ("full_finetune", "lora"):
        model_config = ModelConfig(model_name_or_path=model_path, task_type=TASK_TYPE_BY_FORMAT[task.format],
                                   num_labels=len(label_names) if label_names else None)
        model = BaselineModel(model_config, method, lora_r=params.baselines.lora_r, lora_alpha=params.baselines.lora_alpha)
        trainer_class, final_checkpoint = Trainer, False
    else:
        model = build_model(task, model_path, params.method_config(method, label_names), label_names)
        trainer_class, final_checkpoint = (PromptTrainer if method in PROMPT_METHODS else PrefixTrainer), True
    encoded, truncation = _encode(task, model, label_names, splits)
    config = params.training_config(task_name, method).model_copy(update={"seed": params.seed})
    trainer = trainer_class(model, config, output_dir=output_dir, final_checkpoint=final_checkpoint)
    result = trainer.train(encoded["train"], encoded["eval"])
    run_summary = {
        "task": task_name,
        "method": method,
        "seed": params.seed,
        "data_fingerprint": summary["fingerprint"],
        "global_step": result.global_step,
        "train_loss": result.train_loss,
        "best_step": result.best_step,
        "best_eval": result.best_metrics,
        "wall_time_s": round(result.wall_time_s, 2),
        "peak_memory_mb": round(result.peak_memory_mb, 1),
        "trainable_parameters": model.num_trainable_parameters(),
        "base_parameters": model.num_base_parameters(),
        "artifact_bytes": _directory_bytes(output_dir / BEST_DIR),
        "truncation": truncation,
    }
    (output_dir / TRAIN_SUMMARY).write_text(json.dumps(run_summary, indent=2, sort_keys=True) + "\n")
    if test_metrics_path is not None:
        test = _test_metrics(params, model, encoded["test"], label_names, model.task_type, model.tokenizer.pad_token_id)
        test["data_fingerprint"] = summary["fingerprint"]
        _write_json(test_metrics_path, test)
    return run_summary


def _write_json(path: str | Path, data: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _test_metrics(params: Params, model, features: list[dict], label_names, task_type: str, pad_id: int) -> dict:
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    loader = DataLoader(features, batch_size=params.training.eval_batch_size,
                        collate_fn=lambda rows: collate(rows, pad_token_id=pad_id))
    num_labels = len(label_names) if label_names else None
    results = evaluate_model(model, loader, accelerator, task_type, num_labels)
    return {key.removeprefix("eval_"): value for key, value in results.items()}


def _directory_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def evaluate_run(params: Params, task_name: str, artifact_dir: str | Path, data_dir: str | Path) -> dict:
    """Test-split metrics of a trained artifact (and, for generation, of the untuned base model)."""
    task = params.tasks[task_name]
    summary, splits = read_prepared(data_dir)
    label_names = summary.get("label_names")
    model = load_adapter(artifact_dir).eval()
    encoded, _ = _encode(task, model, label_names, {"test": splits["test"]})
    results = _test_metrics(params, model, encoded["test"], label_names, model.task_type, model.tokenizer.pad_token_id)
    results["data_fingerprint"] = summary["fingerprint"]
    if task.format in ("causal_generation", "seq2seq_generation"):
        base, _ = load_base_model(ModelConfig(model_name_or_path=params.models[task.model], task_type=model.task_type))
        base_results = _test_metrics(params, base.eval(), encoded["test"], None, model.task_type, model.tokenizer.pad_token_id)
        results["base_perplexity"] = base_results["perplexity"]
        results.update(_generation_scores(params, task, model, splits["test"][: params.evaluate.generation_examples]))
    return results


@torch.no_grad()
def _generation_scores(params: Params, task, model, examples) -> dict:
    """BLEU and ROUGE-L of greedy generations against the references."""
    fmt = task_format(task, model.tokenizer, None)
    prompts = fmt.encode_prompts(examples)
    tokenizer = model.tokenizer
    predictions = []
    for row in prompts:  # one at a time: no padding, so decoder-only prompts stay exact
        ids = torch.tensor([row["input_ids"]])
        output = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=params.evaluate.max_new_tokens,
                                do_sample=False, pad_token_id=tokenizer.pad_token_id)
        new_tokens = output[0, ids.shape[1]:] if isinstance(fmt, CausalGenerationFormat) else output[0]
        predictions.append(tokenizer.decode(new_tokens, skip_special_tokens=True).strip())
    references = [example.target for example in examples]
    return {
        "bleu": metrics.bleu(predictions, references),
        "rouge_l": metrics.rouge_l(predictions, references),
        "generated_examples": len(predictions),
        "sample_predictions": [{"source": e.text, "reference": e.target, "prediction": p} for e, p in list(zip(examples, predictions))[:3]],
    }

