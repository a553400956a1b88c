"""`prefixes registry ...`: publish, list, show, get, promote and verify versioned prefix artifacts.

Thin by design: click parses, `prefixes.registry.Registry` does the work. Every command prints a
human summary by default and JSON with `--json`; registry errors become one-line click errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from prefixes.cli.registry_format import got, got_lines, metadata_lines, method_line, read_mapping, summary
from prefixes.cli.registry_push import push
from prefixes.registry import Entry, Registry, RegistryError
from prefixes.registry.dvc_lock import dvc_info


class _RegistryGroup(click.Group):
    """Turns every `RegistryError` into a `ClickException`: one clear line, no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RegistryError as error:
            raise click.ClickException(_one_line(str(error))) from None


def _one_line(message: str) -> str:
    return "; ".join(line.strip() for line in message.splitlines() if line.strip())


def _registry_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--registry",
        "registry_dir",
        default="registry",
        show_default=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="Registry root directory.",
    )(command)


def _json_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")(command)


def _namespace_of(entry: Entry) -> tuple[str, str]:
    """(task, method) from where the version is stored, which its metadata cannot misstate."""
    return entry.path.parent.parent.name, entry.path.parent.name


def _aliases_of(store: Registry, entry: Entry) -> list[str]:
    table = store.aliases(*_namespace_of(entry)).aliases
    return sorted(alias for alias, version in table.items() if version == entry.path.name)


def _report_broken(ctx: click.Context, broken: list[str]) -> None:
    """Name each broken part on stderr and exit 1, after the healthy part was printed."""
    for line in broken:
        click.echo(f"broken: {line}", err=True)
    if broken:
        ctx.exit(1)


@click.group("registry", cls=_RegistryGroup)
def registry() -> None:
    """Versioned registry of folded prefix artifacts (see registry/README.md)."""


@registry.command()
@click.argument("artifact_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_registry_option
@click.option("--task", required=True, help="Task name, e.g. 'sst2'.")
@click.option("--method", required=True, help="The registered method the artifact was trained with.")
@click.option("--metrics", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON/YAML file of metric name -> number.")
@click.option("--training-params", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON/YAML file of the training parameters.")
@click.option("--dataset-fingerprint", help="Fingerprint of the training data.")
@click.option("--dvc-lock", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="dvc.lock whose --dvc-stage entry produced the artifact.")
@click.option("--dvc-stage", help="Stage name in --dvc-lock, e.g. 'train-prefix@sst2'.")
@_json_option
def publish(
    artifact_dir: Path,
    registry_dir: Path,
    task: str,
    method: str,
    metrics: Path | None,
    training_params: Path | None,
    dataset_fingerprint: str | None,
    dvc_lock: Path | None,
    dvc_stage: str | None,
    as_json: bool,
) -> None:
    """Publish ARTIFACT_DIR (a folded save_pretrained output) as the next version."""
    store = Registry(registry_dir)
    entry = store.publish(
        artifact_dir,
        task=task,
        method=method,
        training_params=read_mapping(training_params, "training params"),
        metrics=read_mapping(metrics, "metrics"),
        dataset_fingerprint=dataset_fingerprint,
        dvc=dvc_info(dvc_lock, dvc_stage),
    )
    if as_json:
        click.echo(json.dumps(summary(entry, _aliases_of(store, entry))))
    else:
        click.echo(f"{entry.ref}  digest {entry.metadata.digest[:16]}  at {entry.path}")


@registry.command("list")
@_registry_option
@click.option("--task", help="Only this task.")
@click.option("--method", help="Only this method.")
@_json_option
@click.pass_context
def list_entries(
    ctx: click.Context, registry_dir: Path, task: str | None, method: str | None, as_json: bool
) -> None:
    """List versions, oldest first within each task and method.

    An unreadable version or aliases file does not hide the rest: the readable versions are listed
    and each broken one is named on stderr (exit 1).
    """
    store = Registry(registry_dir)
    listing = store.scan(task, method)
    broken = [f"{problem.entry}: {_one_line(problem.actual)}" for problem in listing.problems]
    tables: dict[tuple[str, str], dict[str, str]] = {}
    rows = []
    for entry in listing.entries:
        key = _namespace_of(entry)
        if key not in tables:  # one read per namespace, not per version
            try:
                tables[key] = store.aliases(*key).aliases
            except RegistryError as error:
                tables[key] = {}
                broken.append(f"{'/'.join(key)}: {_one_line(str(error))}")
        names = sorted(a for a, version in tables[key].items() if version == entry.path.name)
        rows.append(summary(entry, names))
    if as_json:
        click.echo(json.dumps(rows))
    elif not rows and not broken:
        click.echo(f"no versions in {registry_dir}")
    else:
        for row in rows:
            aliases = f"  [{', '.join(row['aliases'])}]" if row["aliases"] else ""
            click.echo(
                f"{row['task']}/{row['method']}/{row['version']}  {row['created_at']}  "
                f"{row['digest'][:16]}{aliases}"
            )
    _report_broken(ctx, broken)


@registry.command()
@click.argument("task")
@click.option("--method", required=True, help="The registered method the version was trained with.")
@click.option("--version", default="latest", show_default=True, help="'latest', 'vN' or an alias.")
@_registry_option
@_json_option
def get(task: str, method: str, version: str, registry_dir: Path, as_json: bool) -> None:
    """Resolve VERSION of TASK/METHOD as `Registry(...).get(...)` does: its path and digests."""
    entry = Registry(registry_dir).get(task, method, version)
    click.echo(json.dumps(got(entry)) if as_json else "\n".join(got_lines(entry)))


@registry.command()
@click.argument("task")
@click.option("--method", help="The method the version was trained with; without it, TASK's methods are listed.")
@click.option("--version", help="'latest' (the default), 'vN' or an alias; needs --method.")
@_registry_option
@_json_option
@click.pass_context
def show(ctx: click.Context, task: str, method: str | None, version: str | None, registry_dir: Path,
         as_json: bool) -> None:
    """Print the metadata of one version, or without --method the methods of TASK.

    A broken aliases file does not hide the version: it is printed, the aliases file is named on
    stderr (exit 1).
    """
    store = Registry(registry_dir)
    if method is None:
        if version is not None:
            raise click.UsageError("--version needs --method (without it, show lists the methods of TASK)")
        _show_methods(ctx, store, task, as_json)
        return
    entry = store.get(task, method, version or "latest")
    broken = []
    try:
        aliases: list[str] | None = _aliases_of(store, entry)
    except RegistryError as error:
        aliases = None
        broken.append(f"{'/'.join(_namespace_of(entry))}: {_one_line(str(error))}")
    if as_json:
        document = entry.metadata.model_dump(mode="json")
        click.echo(json.dumps({**document, "path": str(entry.path), "aliases": aliases}))
    else:
        shown = "unreadable" if aliases is None else ", ".join(aliases) or "-"
        click.echo("\n".join(metadata_lines(entry, shown)))
    _report_broken(ctx, broken)


def _show_methods(ctx: click.Context, store: Registry, task: str, as_json: bool) -> None:
    """Each method of `task`: its readable versions, latest and aliases; broken parts on stderr."""
    listing = store.scan(task)
    broken = [f"{problem.entry}: {_one_line(problem.actual)}" for problem in listing.problems]
    if not listing.entries and not broken:
        raise click.ClickException(f"no versions of task {task!r} in registry {store.root}")
    versions: dict[str, list[str]] = {}
    for entry in listing.entries:
        versions.setdefault(entry.path.parent.name, []).append(entry.path.name)
    rows = []
    for method, names in sorted(versions.items()):
        try:
            aliases = store.aliases(task, method).aliases
        except RegistryError as error:
            aliases = {}
            broken.append(f"{task}/{method}: {_one_line(str(error))}")
        rows.append({"task": task, "method": method, "versions": names, "latest": names[-1], "aliases": aliases})
    if as_json or rows:
        click.echo(json.dumps(rows) if as_json else "\n".join(map(method_line, rows)))
    _report_broken(ctx, broken)


@registry.command()
@click.argument("task")
@click.option("--method", required=True, help="The registered method the version was trained with.")
@click.option("--version", required=True, help="'latest' (pinned now), 'vN' or another alias.")
@click.option("--alias", required=True, help="Alias to move, e.g. 'production'.")
@_registry_option
@_json_option
def promote(
    task: str, method: str, version: str, alias: str, registry_dir: Path, as_json: bool
) -> None:
    """Point ALIAS of TASK/METHOD at VERSION (recorded in the alias history)."""
    event = Registry(registry_dir).promote(task, method, version, alias)
    if as_json:
        click.echo(json.dumps({"task": task, "method": method, **event.model_dump(mode="json")}))
    else:
        click.echo(
            f"{task}/{method}: {alias} {event.from_version or '(new)'} -> {event.to_version}"
        )


@registry.command()
@_registry_option
@_json_option
@click.pass_context
def verify(ctx: click.Context, registry_dir: Path, as_json: bool) -> None:
    """Re-hash every stored file; exit 1 and list the bad entries when anything is off."""
    report = Registry(registry_dir).verify()
    if as_json:
        click.echo(json.dumps({
            "ok": report.ok,
            "entries_checked": report.entries_checked,
            "problems": [vars(problem) for problem in report.problems],
        }))
    elif report.ok:
        click.echo(f"ok: {report.entries_checked} entries checked in {registry_dir}")
    else:
        bad = sorted({problem.entry for problem in report.problems})
        click.echo(f"{len(bad)} bad entries of {report.entries_checked} checked:", err=True)
        for problem in report.problems:
            click.echo(f"  {problem}", err=True)
    if not report.ok:
        ctx.exit(1)


registry.add_command(push)

if __name__ == "__main__":
    registry()
