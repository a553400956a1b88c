"""What `prefixes registry ...` reads from files and prints: input documents, summaries, views.

Kept apart from the click commands in `registry_cli` so each stays short; nothing here writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml

from prefixes.registry import MAX_METADATA_BYTES, Entry


class _AliasFound(Exception):
    def __init__(self, anchor: str, line: int) -> None:
        super().__init__(anchor, line)
        self.anchor, self.line = anchor, line


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases: a few hundred bytes of nested aliases expand to billions of values
    when the document is walked, which hung publish (an alias bomb). Values are written out instead."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _AliasFound(event.anchor, event.start_mark.line + 1)
        return super().compose_node(parent, index)


def read_mapping(path: Path | None, what: str) -> dict[str, Any] | None:
    """Read a JSON or YAML object (JSON first: it is the fast path, and YAML a superset of it)."""
    if path is None:
        return None
    size = path.stat().st_size
    if size > MAX_METADATA_BYTES:  # it ends up in metadata.json, which has this limit
        raise click.ClickException(
            f"{what} file {path} is {size:,} bytes, over the {MAX_METADATA_BYTES >> 20} MiB limit of a "
            "version's metadata.json; publish a smaller file"
        )
    text = path.read_text()
    try:
        data = json.loads(text)
    except ValueError:
        try:
            data = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
        except _AliasFound as found:
            raise click.ClickException(
                f"{what} file {path} uses the YAML alias '*{found.anchor}' (line {found.line}); aliases are "
                "not accepted here: write the values out"
            ) from None
        except yaml.YAMLError as error:
            raise click.ClickException(f"{what} file {path} is not valid JSON/YAML: {error}") from None
    if not isinstance(data, dict):
        raise click.ClickException(f"{what} file {path} must hold an object (name: value pairs)")
    return data


def summary(entry: Entry, aliases: list[str]) -> dict[str, Any]:
    """One version as `list --json` and `publish --json` print it."""
    metadata = entry.metadata
    return {
        "task": metadata.task,
        "method": metadata.method,
        "version": entry.path.name,
        "digest": metadata.digest,
        "created_at": metadata.created_at.isoformat(),
        "aliases": aliases,
        "metrics": metadata.metrics,
        "path": str(entry.path),
    }


def got(entry: Entry) -> dict[str, Any]:
    """What `Registry.get` returns, as `get --json` prints it: where the version is and its digests."""
    md = entry.metadata
    return {"task": md.task, "method": md.method, "version": entry.path.name, "path": str(entry.path),
            "digest": md.digest, "files": {record.name: record.sha256 for record in md.files}}


def got_lines(entry: Entry) -> list[str]:
    return [f"{entry.ref}  {entry.path}", f"digest  {entry.metadata.digest}",
            *(f"  {record.name}  sha256 {record.sha256}" for record in entry.metadata.files)]


def method_line(row: dict[str, Any]) -> str:
    """One method of a task, as `show TASK` prints it for people."""
    count = len(row["versions"])
    aliases = ", ".join(f"{alias} -> {version}" for alias, version in sorted(row["aliases"].items())) or "-"
    return (f"{row['task']}/{row['method']}  {count} version{'s' if count != 1 else ''}, latest {row['latest']}"
            f"  aliases: {aliases}")


def metadata_lines(entry: Entry, aliases: str) -> list[str]:
    """Every recorded field of one version, as `show` prints it for people."""
    md = entry.metadata
    dirty = {None: "", True: " (dirty)", False: " (clean)"}[md.git.dirty]
    return [
        f"entry:               {entry.ref}",
        f"path:                {entry.path}",
        f"aliases:             {aliases}",
        f"created at:          {md.created_at.isoformat()}",
        f"digest:              {md.digest}",
        f"adapter method:      {md.adapter_method} ({md.form}), task type {md.task_type or '-'}",
        f"base model:          {md.base_model.name_or_path} "
        f"(type {md.base_model.model_type or '-'}, revision {md.base_model.revision or '-'})",
        f"base fingerprint:    {md.base_model.fingerprint or '-'}",
        f"git commit:          {md.git.commit or '-'}{dirty}",
        f"dvc.lock hash:       {md.dvc.lock_hash or '-'}" + (f" (stage {md.dvc.stage})" if md.dvc.stage else ""),
        f"dataset fingerprint: {md.dataset_fingerprint or '-'}",
        f"metrics:             {json.dumps(md.metrics, sort_keys=True)}",
        f"training params:     {json.dumps(md.training_params, sort_keys=True)}",
        f"method config:       {json.dumps(md.method_config, sort_keys=True)}",
        f"shape:               {json.dumps(md.shape, sort_keys=True)}",
        f"library versions:    {json.dumps(md.library_versions, sort_keys=True)}",
        "files:",
        *(f"  {f.name}  {f.size} bytes  sha256 {f.sha256}" for f in md.files),
    ]
