"""What a stage tells a person: one line when it starts, one when it ends.

The end line gives the time, the number a person looks for (an eval or test score) and where the
stage wrote; the files hold everything else. Lines go to stderr, so stdout stays for data.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import click


@contextmanager
def stage_lines(stage: str, subject: str, *, announce: bool = True) -> Iterator[dict[str, str]]:
    """Print ``stage subject: started`` (unless the stage says so itself) and, on success, the end
    line; the body fills ``outcome["result"]`` and ``outcome["wrote"]``."""
    if announce:
        click.echo(f"{stage} {subject}: started", err=True)
    start = time.monotonic()
    outcome: dict[str, str] = {}
    yield outcome
    parts = [f"done in {time.monotonic() - start:.1f} s"]
    parts += [outcome[key] for key in ("result",) if outcome.get(key)]
    wrote = f" -> {outcome['wrote']}" if outcome.get("wrote") else ""
    click.echo(f"{stage} {subject}: {', '.join(parts)}{wrote}", err=True)


def scores(metrics: Mapping[str, object], keys: tuple[str, ...], prefix: str = "") -> str:
    """``accuracy 0.95, macro_f1 0.94``: the listed metrics present in ``metrics``, rounded for reading."""
    shown = [(key, metrics.get(prefix + key)) for key in keys]
    return ", ".join(f"{key} {value:.4g}" for key, value in shown if isinstance(value, int | float))


HEADLINE = ("accuracy", "macro_f1", "f1", "exact_match", "perplexity", "bleu", "rouge_l")
"""The metrics an end line shows, when a run has them (its files have every metric)."""
