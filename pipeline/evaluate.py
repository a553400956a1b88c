"""The evaluate stage: test-split metrics of a trained artifact (and of the untuned base model)."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.common import load_or_exit, params_option, require_task, split_results, write_json
from pipeline.console import HEADLINE, scores, stage_lines
from pipeline.params import Params
from pipeline.prepared import read_prepared

# torch and the model stack load inside the functions that use them, so `--help` answers at once.

GENERATION_FORMATS = ("causal_generation", "seq2seq_generation")


@click.command("evaluate")
@params_option
@click.option("--task", required=True, help="Task name, a key of `tasks` in the params file.")
@click.option("--artifact", "artifact_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="The trained artifact's folder (a train stage's best/).")
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="The task's prepared folder (the prepare stage's output).")
@click.option("--out", "metrics_path", required=True, type=click.Path(dir_okay=False), help="Test metrics (numbers).")
@click.option("--details", "details_path", required=True, type=click.Path(dir_okay=False),
              help="Counts, data fingerprint and sample predictions of the evaluation.")
def evaluate(params_path: str, task: str, artifact_dir: str, data_dir: str, metrics_path: str, details_path: str) -> None:
    """Test-split metrics of a trained artifact."""
    params = load_or_exit(params_path)
    require_task(params, task)
    with stage_lines("evaluate", task) as outcome:
        metrics, details = split_results(evaluate_run(params, task, artifact_dir, data_dir))
        write_json(metrics_path, metrics)
        write_json(details_path, details)
        outcome["result"] = f"test {scores(metrics, HEADLINE)} of {artifact_dir}"
        outcome["wrote"] = metrics_path


def evaluate_run(params: Params, task_name: str, artifact_dir: str | Path, data_dir: str | Path) -> dict:
    """Test-split metrics of a trained artifact (and, for generation, of the untuned base model)."""
    from pipeline.scoring import task_scores
    from pipeline.tasks import encode_splits, model_config
    from prefixes.base_models import load_base_model
    from prefixes.model import load_adapter

    task = params.tasks[task_name]
    summary, splits = read_prepared(data_dir)
    label_names = summary.get("label_names")
    model = load_adapter(artifact_dir).eval()
    encoded, _ = encode_splits(task, model, label_names, {"test": splits["test"]})
    batching = {"pad_id": model.tokenizer.pad_token_id, "batch_size": params.training.eval_batch_size}
    results = split_metrics(model, encoded["test"], label_names, model.task_type, **batching)
    results["data_fingerprint"] = summary["fingerprint"]
    results.update(task_scores(task, model, splits["test"]))
    if task.format in GENERATION_FORMATS:
        base, _ = load_base_model(model_config(task, params.models[task.model], None))
        untuned = split_metrics(base.eval(), encoded["test"], None, model.task_type, **batching)
        results["base_perplexity"] = untuned["perplexity"]
        results.update(score_test_generations(params, task, model, splits["test"]))
    return results


def split_metrics(model, features: list[dict], label_names: list[str] | None, task_type: str, *, pad_id: int,
                 batch_size: int) -> dict:
    """Metrics of ``model`` over every feature of a split (names without the ``eval_`` prefix).

    The loader goes through accelerate: ``gather_for_metrics`` trims the last batch by the state of
    the loader accelerate prepared last, which in a training process is the training loader.
    """
    import torch
    from accelerate import Accelerator
    from torch.utils.data import DataLoader

    from prefixes.data.formats import collate
    from prefixes.evaluate import evaluate_model

    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    loader = accelerator.prepare_data_loader(
        # A list is a map-style dataset (__getitem__ and __len__); torch's annotation wants a Dataset.
        DataLoader(features, batch_size=batch_size, collate_fn=lambda rows: collate(rows, pad_token_id=pad_id))  # type: ignore[arg-type]
    )
    num_labels = len(label_names) if label_names else None
    results = evaluate_model(model, loader, accelerator, task_type, num_labels)
    return {key.removeprefix("eval_"): value for key, value in results.items()}


def score_test_generations(params: Params, task, model, test_split: list) -> dict:
    """One generation per test source, every source of the split (or the first
    `evaluate.generation_examples` when set), scored against all of that source's references."""
    from prefixes.data.grouping import references_by_source

    sources = references_by_source(test_split)[: params.evaluate.generation_examples]
    return generation_scores(params, task, model, [s.example for s in sources], [s.references for s in sources])


def generation_scores(params: Params, task, model, examples, references) -> dict:
    """BLEU, chrF and ROUGE-1/2/L/Lsum of generations against the references, in left-padded batches:
    greedy, or beam search with `evaluate.num_beams` beams."""
    from pipeline.tasks import task_format, truncation_said_by_the_pipeline
    from prefixes import metrics
    from prefixes.generate import generate_batched

    fmt = task_format(task, model.tokenizer, None)
    with truncation_said_by_the_pipeline():  # prepare reported the prompts' truncation
        prompts = [row["input_ids"] for row in fmt.encode_prompts(examples)]
    tokenizer = model.tokenizer
    answers = generate_batched(model, prompts, pad_token_id=tokenizer.pad_token_id,
                               batch_size=params.training.eval_batch_size, max_new_tokens=params.evaluate.max_new_tokens,
                               do_sample=False, num_beams=params.evaluate.num_beams)
    predictions = [text.strip() for text in tokenizer.batch_decode(answers, skip_special_tokens=True)]
    return {
        "bleu": metrics.bleu(predictions, references),
        "chrf": metrics.chrf(predictions, references),
        **metrics.rouge(predictions, references),
        "generated_examples": len(predictions),
        "sample_predictions": [{"source": e.text, "reference": e.target, "prediction": p}
                               for e, p in list(zip(examples, predictions))[:3]],
    }
