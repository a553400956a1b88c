"""The multi-task-bundle stage: one bundle per (base model, method) of every task's prefix.

Bundles serve classification (single texts and pairs), extractive QA, multiple choice and
generation; one bundle holds one kind of task, so QA and multiple-choice tasks get their own, named
`<model>-<method>-qa` and `<model>-<method>-choice`.

Members that the publish stage filed in the registry are pinned to that version (a fresh clone
serves them: the registry is in git); the others, such as an experiment's, point at the run's
artifact folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from pipeline.common import load_or_exit, params_option
from pipeline.layout import BEST_DIR, PREPARED_SUMMARY
from pipeline.params import TASK_TYPE_BY_FORMAT, Params
from prefixes.bundle import RegistryRef, build_manifest, write_manifest
from prefixes.bundle.manifest import MANIFEST_NAME
from prefixes.bundle.members import MULTIPLE_CHOICE, QUESTION_ANSWERING, SERVED_TASK_TYPES

EXPERIMENT_MARKER = "DVC_EXP_BASELINE_REV"  # set by `dvc exp run` (as pipeline/publish.py reads it)
UNPUBLISHED = "_unpublished"
"""The key of the publish record an experiment leaves: no run's '<task>/<method>'."""

# Bundle name suffix per task kind: a base model's QA and multiple-choice tasks cannot share its
# classification bundle (each kind has its own head class).
_KIND_SUFFIX = {QUESTION_ANSWERING: "-qa", MULTIPLE_CHOICE: "-choice"}


@click.command("multi-task-bundle")
@params_option
@click.option("--artifacts-dir", default="artifacts", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Per-run folders (the train stages' outputs).")
@click.option("--data-dir", default="data/prepared", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Prepared tasks (the prepare stage's outputs).")
@click.option("--published", "published_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="What the publish stage filed in the registry.")
@click.option("--out", "output_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder that receives one subfolder per bundle.")
def multi_task_bundle(params_path: str, artifacts_dir: Path, data_dir: Path, published_path: Path, output_dir: Path) -> None:
    """One bundle per (base model, method, kind of task): every such task's prefix over that frozen model."""
    params = load_or_exit(params_path)
    published = json.loads(published_path.read_text())
    written = []
    for method in params.evaluated_methods:
        for stem, suffix, tasks in bundle_groups(params):
            members = [_member(params, task, method, artifacts_dir, data_dir, published) for task in tasks]
            name = f"{stem}-{method}{suffix}"
            bundle_dir = output_dir / name
            bundle_dir.mkdir(parents=True, exist_ok=True)
            manifest = build_manifest(name, members, bundle_dir)
            # Generation members answer requests through the prompt template they were trained with.
            templated = [member.model_copy(update={"template": params.tasks[member.task].template})
                         for member in manifest.members]
            write_manifest(bundle_dir / MANIFEST_NAME, manifest.model_copy(update={"members": templated}))
            written.append(f"{name} ({', '.join(tasks)})")
    click.echo(f"multi-task-bundle: {len(written)} bundles in {output_dir}: {'; '.join(written)}", err=True)
    if os.environ.get(EXPERIMENT_MARKER):
        # `dvc exp run` published nothing. Rewriting the publish stage's record after dvc.lock recorded it leaves
        # publish stale there, so the `dvc repro` after `dvc exp apply`, or that keeps this experiment, publishes it.
        published_path.write_text(json.dumps({UNPUBLISHED: "made by `dvc exp run`: `dvc repro` publishes it"}) + "\n")


def bundle_groups(params: Params) -> list[tuple[str, str, list[str]]]:
    """(base model key, name suffix, tasks) of each bundle a method gets, in task order."""
    groups: dict[tuple[str, str], list[str]] = {}
    for task in params.task_names:
        kind = TASK_TYPE_BY_FORMAT[params.tasks[task].format]
        if kind in SERVED_TASK_TYPES:
            groups.setdefault((params.tasks[task].model, _KIND_SUFFIX.get(kind, "")), []).append(task)
    return [(model, suffix, tasks) for (model, suffix), tasks in groups.items()]


def _member(params: Params, task: str, method: str, artifacts_dir: Path, data_dir: Path, published: dict) -> tuple:
    labels = json.loads((data_dir / task / PREPARED_SUMMARY).read_text()).get("label_names")
    record = published.get(f"{task}/{method}")
    if record is None:
        return task, method, artifacts_dir / task / method / BEST_DIR, labels
    ref = RegistryRef(registry=params.publish.registry, task=task, method=method, version=record["version"])
    return task, method, ref, labels
