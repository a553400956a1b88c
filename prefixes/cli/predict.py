"""`prefixes predict`: answer mixed-task JSONL requests with a multi-task bundle."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from pydantic import ValidationError
from pydantic_core import ErrorDetails

if TYPE_CHECKING:
    from prefixes.bundle import PredictRequest
from prefixes.bundle import read_manifest
from prefixes.bundle.manifest import MANIFEST_NAME

# A request line longer than this is refused: answers echo their request, and no task here reads
# more than a few thousand tokens (the README states the limit).
MAX_REQUEST_BYTES = 1_000_000


@click.command("predict")
@click.option("--bundle", "manifest_path", required=True, type=click.Path(exists=True, path_type=Path),
              help=f"The bundle's folder or its {MANIFEST_NAME} (written by the multi-task-bundle stage).")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1),
              help="Requests per forward pass; one batch may mix tasks.")
@click.option("--max-new-tokens", default=32, show_default=True, type=click.IntRange(min=1),
              help="Longest answer of a generation task, in tokens.")
def predict(manifest_path: Path, batch_size: int, max_new_tokens: int) -> None:
    """Read {"task", "text"} JSON lines from stdin; write one prediction per line to stdout, in order.

    A pair classification task (NLI) takes its second text too: {"task", "text", "text_pair"}; an
    extractive QA task the question in "text" and the context in "text_pair", and answers with the
    span of the context it picks; a multiple-choice task the question in "text" and its answers in
    "choices", and answers with the choice it picks and its index, "label".

    Every line is checked before the model loads, so bad input fails fast and writes nothing.
    """
    from prefixes.bundle import MultiTaskModel  # torch loads only once the requests are known to be good

    if manifest_path.is_dir():
        manifest_path = manifest_path / MANIFEST_NAME
    try:
        tasks = read_manifest(manifest_path).tasks
        # click types its deprecated names, served by a module __getattr__, as object.
        requests = parse_requests(click.get_binary_stream("stdin"), tasks)  # type: ignore[operator]
        model = MultiTaskModel.from_bundle(manifest_path)
        predictions = model.predict(requests, batch_size=batch_size, max_new_tokens=max_new_tokens)
    except (ValueError, OSError) as error:  # bundle, manifest and base-model problems, worded for people
        raise click.ClickException(str(error)) from None
    for prediction in predictions:
        click.echo(json.dumps(prediction, ensure_ascii=False))


def parse_requests(lines: Iterable[bytes | str], tasks: list[str]) -> list[PredictRequest]:
    """Validate JSONL requests; a bad line is an error that names its line number (blank lines are skipped)."""
    from prefixes.bundle import PredictRequest  # its module loads torch

    requests = []
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError as error:
            raise click.ClickException(f"line {number} is not valid UTF-8 ({error.reason} at byte {error.start}); "
                                       "send UTF-8 JSON lines") from None
        if not line.strip():
            continue
        if len(raw) > MAX_REQUEST_BYTES:
            raise click.ClickException(f"line {number} has {len(raw):,} bytes, over the limit of {MAX_REQUEST_BYTES:,} "
                                       "per request; shorten its text")
        try:
            request = PredictRequest.model_validate_json(line)
        except ValidationError as error:
            problems = "; ".join(_describe(problem) for problem in error.errors())
            raise click.ClickException(f'line {number}: {problems}; each line must be '
                                       '{"task": ..., "text": ...}, with "text_pair": ... for a pair task') from None
        if not request.text.strip():
            raise click.ClickException(f"line {number}: 'text' is empty; send the text to answer")
        if request.task not in tasks:
            raise click.ClickException(f"line {number}: unknown task {request.task!r}; this bundle serves {tasks}")
        requests.append(request)
    return requests


def _describe(problem: ErrorDetails) -> str:
    where = ".".join(str(part) for part in problem["loc"])
    return f"{where}: {problem['msg']}" if where else problem["msg"]
