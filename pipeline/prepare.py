"""The prepare stage: load, de-duplicate and split a task's data; check its truncation; materialise its base model."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.common import load_or_exit, naming_the_model, params_option, require_task
from pipeline.console import stage_lines
from pipeline.labels import class_count_lines, label_warnings
from pipeline.params import TaskConfig
from pipeline.prepared import split_task, write_prepared

# The tokenizer stack loads inside the functions that use it, so `--help` answers at once.


@click.command("prepare")
@params_option
@click.option("--task", required=True, help="Task key in params.yaml.")
@click.option("--out", "output_dir", required=True, type=click.Path(file_okay=False), help="Where the splits go.")
def prepare(params_path: str, task: str, output_dir: str) -> None:
    """Split a task's data (with fingerprints), check its truncation and materialise its base model."""
    from prefixes.base_models import load_tokenizer

    params = load_or_exit(params_path)
    require_task(params, task)
    with stage_lines("prepare", task) as outcome:
        # Loading the tokenizer converts an embedded GGUF model once here, not inside a timed training stage.
        models_key = params.tasks[task].model
        with naming_the_model(models_key, params.models[models_key]):
            tokenizer = load_tokenizer(params.models[models_key])
        summary = prepare_task(task, params.tasks[task], seed=params.seed, output_dir=output_dir, tokenizer=tokenizer)
        counts = ", ".join(f"{split} {count}" for split, count in summary["counts"].items())
        outcome["result"] = f"{counts} examples, fingerprint {summary['fingerprint'][:12]}"
        outcome["wrote"] = output_dir


def prepare_task(task_name: str, task: TaskConfig, *, seed: int, output_dir: str | Path, tokenizer) -> dict:
    """Split the task's data and write it with its summary (data.json), which it returns.

    Raises DataError, writing nothing, when a split is truncated (by `tokenizer`, the task model's)
    beyond the task's `max_truncated_fraction`; warnings above 10% are logged and kept in data.json.
    """
    from pipeline.truncation_check import check_truncation, measure_truncation

    splits, label_names = split_task(task, seed=seed)
    if task.format == "classification":  # class counts per split, and labels worth a second look
        for line in class_count_lines(task_name, splits) + label_warnings(task_name, splits):
            click.echo(line, err=True)
    truncation = measure_truncation(task, tokenizer, splits, label_names)
    warnings = check_truncation(task_name, task, truncation)
    return write_prepared(task, seed=seed, splits=splits, label_names=label_names, output_dir=output_dir,
                          truncation=truncation, truncation_warnings=warnings)
