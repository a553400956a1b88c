"""The train stages: `train-prefix`, `train-prompt` and `train-baseline` for one (task, method).

Each writes the run's folder: the best artifact, the resumable checkpoint, the training logs and a
summary (see pipeline.layout). Baselines are tested here, on the model in memory, since they are
not prefix artifacts the evaluate stage can load.

A rerun resumes from the run's checkpoint when it is complete and was written by the same run: same
data fingerprint, task, model, method and its config, training settings, code and library versions
(``run_identity``). dvc.yaml marks the checkpoint ``persist: true`` so that DVC leaves it in place
for the rerun; any other checkpoint is ignored and training starts fresh, saying why.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import cast

import click

import pipeline
import prefixes
from pipeline.common import load_or_exit, params_option, require_task, split_results, write_json
from pipeline.console import HEADLINE, scores, stage_lines
from pipeline.layout import BEST_DIR, CHECKPOINT_DIR, TRAIN_SUMMARY
from pipeline.params import Params
from pipeline.prepared import read_prepared
from prefixes.artifact.card import append_card_section
from prefixes.methods.registry import get_method, method_names
from prefixes.versions import library_versions

# torch and the model stack load inside the functions that use them, so `--help` answers at once.


def _train_command(name: str, methods: tuple[str, ...], help_text: str, with_test_metrics: bool = False):
    @click.command(name, help=help_text)
    @params_option
    @click.option("--task", required=True, help="Task name, a key of `tasks` in the params file.")
    @click.option("--method", required=True, type=click.Choice(methods), help="Method to train.")
    @click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False),
                  help="The task's prepared folder (the prepare stage's output).")
    @click.option("--out", "output_dir", required=True, type=click.Path(file_okay=False),
                  help="The run's folder: best artifact, checkpoint, logs and summary.")
    @click.option("--metrics", "metrics_path", required=with_test_metrics, type=click.Path(dir_okay=False),
                  help="Test metrics JSON (baselines are tested in the training process).")
    @click.option("--details", "details_path", required=with_test_metrics, type=click.Path(dir_okay=False),
                  help="Counts and data fingerprint of the test evaluation.")
    @click.option("--fresh", is_flag=True,
                  help="Delete the run's checkpoint and train from the first step (e.g. when the checkpoint is damaged).")
    def command(params_path: str, task: str, method: str, data_dir: str, output_dir: str, metrics_path: str | None,
                details_path: str | None, fresh: bool) -> None:
        from prefixes.checkpoint import CheckpointError

        params = load_or_exit(params_path)
        require_task(params, task)
        test_outputs = (metrics_path, cast(str, details_path)) if metrics_path else None
        try:
            # The start line is the resume decision (fresh or resuming, and why).
            with stage_lines(name, f"{task}/{method}", announce=False) as outcome:
                summary = train_run(params, task, method, data_dir, output_dir, test_outputs=test_outputs, fresh=fresh)
                best = scores(summary["best_eval"] or {}, ("loss", *HEADLINE), prefix="eval_")
                outcome["result"] = f"{summary['global_step']} steps, best eval {best}"
                outcome["wrote"] = output_dir
        except CheckpointError as error:  # one line: which file, and the two ways to start over
            raise click.ClickException(
                f"{error}; start fresh with `prefixes {name} --task {task} --method {method} ... --fresh`, "
                f"or delete {Path(output_dir) / CHECKPOINT_DIR}") from None

    return command


train_prefix = _train_command("train-prefix", tuple(method_names("prefix")),
                              "Train a prefix (prefix tuning or P-tuning v2) for a task.")
train_prompt = _train_command("train-prompt", tuple(method_names("prompt")), "Train a soft prompt for a task.")
train_baseline = _train_command("train-baseline", tuple(method_names("baseline")),
                                "Train and test a reference point (full fine-tuning, LoRA) through the same loop.",
                                with_test_metrics=True)


def train_run(params: Params, task_name: str, method: str, data_dir: str | Path, output_dir: str | Path,
              test_outputs: tuple[str | Path, str | Path] | None = None, fresh: bool = False) -> dict:
    """Train one task with one method (or baseline); write the artifact, logs and a summary.
    ``fresh`` deletes the run's checkpoint first instead of resuming from it."""
    import torch

    from pipeline.evaluate import GENERATION_FORMATS, score_test_generations, split_metrics
    from pipeline.scoring import task_scores
    from pipeline.tasks import build_model, encode_splits
    from prefixes.train import Trainer

    task = params.tasks[task_name]
    output_dir = Path(output_dir)
    summary, splits = read_prepared(data_dir)
    label_names = summary.get("label_names")
    seed = params.run_seed(task_name, method)
    torch.manual_seed(seed)  # adapter initialisation is part of the run's determinism
    method_config = params.method_config(task_name, method, label_names)
    model = build_model(task, params.models[task.model], method, method_config, label_names)
    encoded, truncation = encode_splits(task, model, label_names, splits)
    config = params.training_config(task_name, method).model_copy(update={"seed": seed})
    identity = run_identity(params, task_name, method, summary["fingerprint"], method_config.model_dump(mode="json"))
    # Baselines are no prefix artifacts: they keep no resumable state and always start fresh.
    resumable = get_method(method).kind != "baseline"
    checkpoint = output_dir / CHECKPOINT_DIR
    trainer = Trainer(model, config, best_dir=output_dir / BEST_DIR, checkpoint_dir=checkpoint, log_dir=output_dir,
                      final_checkpoint=resumable, run_identity=identity)
    resume_from = _resume_point(checkpoint, identity, fresh) if resumable else None
    result = trainer.train(encoded["train"], encoded["eval"], resume_from=resume_from)
    run_summary = {
        "task": task_name,
        "method": method,
        "seed": seed,
        "data_fingerprint": summary["fingerprint"],
        "global_step": result.global_step,
        "train_loss": result.train_loss,
        "best_step": result.best_step,
        "best_eval": result.best_metrics,
        "wall_time_s": round(result.wall_time_s, 2),
        "peak_memory_mb": round(result.peak_memory_mb, 1),
        "trainable_parameters": model.num_trainable_parameters(),
        "base_parameters": model.num_base_parameters(),
        "truncation": truncation,
    }
    test_metrics = None
    if test_outputs is not None:
        batching = {"pad_id": model.tokenizer.pad_token_id, "batch_size": params.training.eval_batch_size}
        test = split_metrics(model, encoded["test"], label_names, model.task_type, **batching)
        test.update(task_scores(task, model, splits["test"]))
        if task.format in GENERATION_FORMATS:  # scored as the evaluate stage scores the other methods
            test.update(score_test_generations(params, task, model.eval(), splits["test"]))
        test_metrics, details = split_results({**test, "data_fingerprint": summary["fingerprint"]})
        write_json(test_outputs[0], test_metrics)
        write_json(test_outputs[1], details)
    if trainer.accelerator.is_main_process:  # the process that saved the artifact describes it
        _describe_run(output_dir / BEST_DIR, run_summary, test_metrics)
        run_summary["artifact_bytes"] = _directory_bytes(output_dir / BEST_DIR)
        write_json(output_dir / TRAIN_SUMMARY, run_summary)
    trainer.accelerator.wait_for_everyone()
    return run_summary


def _describe_run(best_dir: Path, run_summary: dict, test_metrics: dict | None) -> None:
    """The model card's account of the run: task, data, budget and the scores that chose it."""
    facts: dict[str, object] = {
        "task": run_summary["task"], "data fingerprint": run_summary["data_fingerprint"],
        "seed": run_summary["seed"], "optimizer steps": run_summary["global_step"],
        "best step (eval split)": run_summary["best_step"],
    }
    facts |= {f"eval {key.removeprefix('eval_')}": value for key, value in (run_summary["best_eval"] or {}).items()}
    facts |= {f"test {key}": value for key, value in (test_metrics or {}).items()}
    append_card_section(best_dir, "Training run", facts)


def run_identity(params: Params, task_name: str, method: str, data_fingerprint: str, method_config: dict) -> dict:
    """Everything a run's weights depend on, as JSON: a checkpoint resumes only a run with the same identity."""
    task = params.tasks[task_name]
    identity = {
        "task": task_name, "task_config": task.model_dump(mode="json"), "model": params.models[task.model],
        "data_fingerprint": data_fingerprint, "method": method, "method_config": method_config,
        "training": params.training_config(task_name, method).model_dump(mode="json")
        | {"seed": params.run_seed(task_name, method)},
        "code": _code_digest(), "libraries": dict(library_versions()),
    }
    return json.loads(json.dumps(identity))  # as it reads back from the checkpoint


def _code_digest() -> str:
    """A digest of the library's and the pipeline's sources (the train stages' code dependencies)."""
    digest = hashlib.sha256()
    for package in (prefixes, pipeline):
        root = Path(cast(str, package.__file__)).parent
        for path in sorted(root.rglob("*.py")):
            digest.update(f"{package.__name__}/{path.relative_to(root).as_posix()}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _resume_point(checkpoint: Path, identity: dict, fresh: bool = False) -> Path | None:
    """The checkpoint to resume from, or None to start fresh (``fresh``: after deleting it); says which on stderr."""
    from prefixes.checkpoint import checkpoint_run, find_checkpoint, remove_checkpoint

    if fresh:
        remove_checkpoint(checkpoint)
        click.echo(f"Starting fresh (--fresh): deleted the checkpoint in {checkpoint}, if any", err=True)
        return None
    found = find_checkpoint(checkpoint)
    if found is None:
        click.echo(f"Starting fresh: no complete checkpoint in {checkpoint}", err=True)
        return None
    recorded = checkpoint_run(found)
    if recorded is None:
        click.echo(f"Starting fresh: the checkpoint in {checkpoint} records no run identity (an older format)", err=True)
        return None
    differing = sorted(key for key in identity.keys() | recorded.keys() if identity.get(key) != recorded.get(key))
    if differing:
        click.echo(f"Starting fresh: the checkpoint in {checkpoint} belongs to another run "
                   f"(different {', '.join(differing)})", err=True)
        return None
    click.echo(f"Resuming from the checkpoint in {found}", err=True)
    return checkpoint


def _directory_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())
