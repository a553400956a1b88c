"""The publish stage: file every trained prefix of the default pipeline in the registry.

Publishing is deliberate. Each (task, method) artifact becomes a registry version (idempotent by
content: an unchanged artifact keeps its version) and the `candidate` alias moves to it;
promoting to `production` stays a separate, human command (`prefixes registry promote`). Inside
`dvc exp run` (DVC sets DVC_EXP_BASELINE_REV) nothing is published and no alias moves: an
experiment must not change what serving resolves. The stage writes what it published, which the
bundle stage pins its members to.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import click

from pipeline.common import load_or_exit, params_option, write_json
from pipeline.layout import BEST_DIR, PREPARED_SUMMARY, train_stage
from pipeline.params import Params
from prefixes.artifact.card import add_card_results, append_card_section
from prefixes.registry import Registry
from prefixes.registry.dvc_lock import dvc_info

EXPERIMENT_MARKER = "DVC_EXP_BASELINE_REV"


@click.command("publish")
@params_option
@click.option("--artifacts-dir", default="artifacts", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Per-run folders (the train stages' outputs).")
@click.option("--data-dir", default="data/prepared", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Prepared tasks (the prepare stage's outputs).")
@click.option("--metrics-dir", default="metrics", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Per-run test metrics (the evaluate stage's outputs).")
@click.option("--dvc-lock", default="dvc.lock", show_default=True, type=click.Path(dir_okay=False, path_type=Path),
              help="DVC's lock file, recorded with each published version.")
@click.option("--out", "record_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="JSON of what was published: '<task>/<method>' -> version and digest.")
def publish(params_path: str, artifacts_dir: Path, data_dir: Path, metrics_dir: Path, dvc_lock: Path,
            record_path: Path) -> None:
    """Publish every prefix and prompt run into the registry and move its `candidate` alias."""
    params = load_or_exit(params_path)
    reason = _reason_not_to_publish(params)
    if reason:
        write_json(record_path, {})
        click.echo(f"not publishing: {reason}; the registry is unchanged")
        return
    registry = Registry(params.publish.registry)
    published = {}
    for task in params.task_names:
        data = json.loads((data_dir / task / PREPARED_SUMMARY).read_text())
        for method in params.evaluated_methods:
            entry = _publish_run(params, registry, task, method, artifacts_dir, metrics_dir, data, dvc_lock)
            published[f"{task}/{method}"] = {"version": entry.path.name, "digest": entry.metadata.digest}
    write_json(record_path, published)
    filed = ", ".join(f"{run}/{record['version']}" for run, record in published.items())
    click.echo(f"publish: {len(published)} runs as {params.publish.alias!r} in {params.publish.registry}: {filed}", err=True)


def _reason_not_to_publish(params: Params) -> str | None:
    if not params.publish.enabled:
        return "publish.enabled is false in params.yaml"
    if os.environ.get(EXPERIMENT_MARKER):
        return "this is a `dvc exp run` experiment"
    return None


def _publish_run(params: Params, registry: Registry, task: str, method: str, artifacts_dir: Path,
                 metrics_dir: Path, data: dict, dvc_lock: Path):
    test = json.loads((metrics_dir / task / f"{method}.json").read_text())
    metrics = {k: v for k, v in test.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    # The card of the published copy adds the test scores, which exist only after the evaluate
    # stage; the train stage's own output stays as DVC recorded it.
    with tempfile.TemporaryDirectory() as staging:
        artifact = Path(staging) / BEST_DIR
        shutil.copytree(artifacts_dir / task / method / BEST_DIR, artifact)
        append_card_section(artifact, "Test split", {"examples": data["counts"]["test"], **metrics})
        add_card_results(artifact, f"{task}-{method}", metrics, dataset_name=task)  # the Hub's model-index
        entry = registry.publish(
            artifact, task=task, method=method,
            training_params=params.training_config(task, method).model_dump(), metrics=metrics,
            dataset_fingerprint=data["fingerprint"],
            dvc=dvc_info(dvc_lock, train_stage(task, method)) if dvc_lock.exists() else None,
        )
    registry.promote(task, method, entry.path.name, params.publish.alias)
    return entry
