"""The multi-task-bundle stage: group trained prefixes that share a base model, pin them, publish them."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pipeline.common import load_or_exit, params_option
from pipeline.layout import BEST_DIR, MANIFEST_NAME, PREPARED_SUMMARY, train_stage
from prefixes.bundle import build_manifest, write_manifest
from prefixes.registry import Registry


@click.command("multi-task-bundle")
@params_option
@click.option("--artifacts-dir", default="artifacts", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--data-dir", default="data/prepared", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--metrics-dir", default="metrics", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--dvc-lock", default="dvc.lock", show_default=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "output_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
def multi_task_bundle(params_path: str, artifacts_dir: Path, data_dir: Path, metrics_dir: Path, dvc_lock: Path,
                      output_dir: Path) -> None:
    """One bundle per (base model, method): every task's prefix over that frozen model."""
    params = load_or_exit(params_path)
    registry = Registry(params.bundle.registry) if params.bundle.publish else None
    for method in [*params.prefix_methods, *params.prompt_methods]:
        for model_key in params.models:
            members = []
            for task in params.task_names:
                artifact = artifacts_dir / task / method / BEST_DIR
                if params.tasks[task].model != model_key or not artifact.exists():
                    continue
                data = json.loads((data_dir / task / PREPARED_SUMMARY).read_text())
                members.append((task, method, artifact, data.get("label_names")))
                if registry is not None:
                    metrics_path = metrics_dir / task / f"{method}.json"
                    test = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
                    entry = registry.publish(
                        artifact, task=task, method=method,
                        training_params=params.training_config(task, method).model_dump(),
                        metrics={k: v for k, v in test.items() if isinstance(v, (int, float))},
                        dataset_fingerprint=data["fingerprint"],
                        dvc_lock=dvc_lock if dvc_lock.exists() else None, dvc_stage=train_stage(task, method),
                    )
                    click.echo(f"published {task}/{method} as {entry.metadata.version}")
            if not members:
                continue
            name = f"{model_key}-{method}"
            bundle_dir = output_dir / name
            bundle_dir.mkdir(parents=True, exist_ok=True)
            manifest = build_manifest(name, members, bundle_dir)
            # Generation members answer requests through the prompt template they were trained with.
            templated = [member.model_copy(update={"template": params.tasks[member.task].template})
                         for member in manifest.members]
            write_manifest(bundle_dir / MANIFEST_NAME, manifest.model_copy(update={"members": templated}))
            click.echo(f"bundle {name}: {[task for task, *_ in members]}")
