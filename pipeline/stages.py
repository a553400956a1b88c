"""The DVC stage commands. Paths come from dvc.yaml; params from params.yaml; work from prefixes.*."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pipeline.common import load_or_exit, params_option, require_task
from prefixes.base_models import resolve_model_path
from prefixes.params import PREFIX_METHODS, PROMPT_METHODS
from prefixes.runs import evaluate_run, train_run
from prefixes.tasks import prepare_task


@click.command("prepare")
@params_option
@click.option("--task", required=True, help="Task key in params.yaml.")
@click.option("--out", "output_dir", required=True, type=click.Path(file_okay=False), help="Where the splits go.")
def prepare(params_path: str, task: str, output_dir: str) -> None:
    """Split a task's data (with fingerprints) and materialise its base model."""
    params = load_or_exit(params_path)
    require_task(params, task)
    summary = prepare_task(params.tasks[task], seed=params.seed, output_dir=output_dir)
    # Converting the embedded GGUF model happens once here, not inside a timed training stage.
    resolve_model_path(params.models[params.tasks[task].model])
    click.echo(f"{task}: {summary['counts']} fingerprint {summary['fingerprint'][:12]}")


def _train_command(name: str, methods: tuple[str, ...], help_text: str):
    @click.command(name, help=help_text)
    @params_option
    @click.option("--task", required=True)
    @click.option("--method", required=True, type=click.Choice(methods))
    @click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False))
    @click.option("--out", "output_dir", required=True, type=click.Path(file_okay=False))
    def command(params_path: str, task: str, method: str, data_dir: str, output_dir: str) -> None:
        params = load_or_exit(params_path)
        require_task(params, task)
        summary = train_run(params, task, method, data_dir, output_dir)
        click.echo(json.dumps({k: summary[k] for k in ("task", "method", "global_step", "best_eval", "wall_time_s")}))

    return command


train_prefix = _train_command("train-prefix", PREFIX_METHODS, "Train a prefix (prefix tuning or P-tuning v2) for a task.")
train_prompt = _train_command("train-prompt", PROMPT_METHODS, "Train a soft prompt for a task.")


@click.command("train-baseline")
@params_option
@click.option("--task", required=True)
@click.option("--method", required=True, type=click.Choice(["full_finetune", "lora"]))
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", "output_dir", required=True, type=click.Path(file_okay=False))
@click.option("--metrics", "metrics_path", required=True, type=click.Path(dir_okay=False), help="Test metrics JSON.")
def train_baseline(params_path: str, task: str, method: str, data_dir: str, output_dir: str, metrics_path: str) -> None:
    """Train and test a reference point (full fine-tuning or LoRA) through the same loop."""
    params = load_or_exit(params_path)
    require_task(params, task)
    summary = train_run(params, task, method, data_dir, output_dir, test_metrics_path=metrics_path)
    click.echo(json.dumps({k: summary[k] for k in ("task", "method", "global_step", "best_eval", "wall_time_s")}))


@click.command("evaluate")
@params_option
@click.option("--task", required=True)
@click.option("--artifact", "artifact_dir", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", "metrics_path", required=True, type=click.Path(dir_okay=False))
def evaluate(params_path: str, task: str, artifact_dir: str, data_dir: str, metrics_path: str) -> None:
    """Test-split metrics of a trained artifact."""
    params = load_or_exit(params_path)
    require_task(params, task)
    results = evaluate_run(params, task, artifact_dir, data_dir)
    path = Path(metrics_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    click.echo(json.dumps({k: v for k, v in results.items() if isinstance(v, (int, float))}))


@click.command("check-params")
@params_option
def check_params(params_path: str) -> None:
    """Validate params.yaml and exit non-zero listing every problem."""
    params = load_or_exit(params_path)
    click.echo(f"{params_path}: ok ({len(params.task_names)} tasks)")
