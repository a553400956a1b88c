"""The README.md model card written next to every folded artifact: what it is, for people."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from prefixes.artifact.schema import CARD_NAME, ArtifactConfig
from prefixes.io import write_atomic


def model_card(config: ArtifactConfig, trainable_parameters: int, base_parameters: int) -> str:
    """Base model and its fingerprint, method and sizes, task and labels, and how to load it."""
    base = config.base_model
    settings = ", ".join(f"{key}={value!r}" for key, value in sorted(config.method_config.items()))
    lines = [
        f"# {config.method} adapter for {base.name_or_path}",
        "",
        f"- **Base model**: `{base.name_or_path}` ({base.model_type}"
        + (f", revision {base.revision}" if base.revision else "") + f"), weights fingerprint `{base.fingerprint}`",
        f"- **Method**: `{config.method}` ({settings})",
        f"- **Trained parameters**: {trainable_parameters:,} of {base_parameters:,} in the frozen base "
        f"({100 * trainable_parameters / max(base_parameters, 1):.3f}%)",
        f"- **Task type**: `{config.task_type}`",
    ]
    if config.label_names:
        lines.append(f"- **Labels** (id order): {', '.join(config.label_names)}")
    if config.head:
        lines.append(f"- **Trained head**: {', '.join(config.head)}")
    lines += [
        "",
        "The run that made it (task, data fingerprint, metrics) is described below when its trainer "
        "recorded it, and in the registry: `prefixes registry show <task> --method " + config.method
        + " --version <vN>`.",
        "",
        "```python",
        "from prefixes import load_adapter",
        "",
        "model = load_adapter(\"path/to/this/folder\")  # loads the base model, checks its fingerprint",
        "```",
        "",
    ]
    return "\n".join(lines)


def append_card_section(directory: str | Path, title: str, facts: Mapping[str, object]) -> None:
    """Add a section of facts (task, data fingerprint, metrics, ...) to a saved model's card.

    The library writes what the model knows about itself; whoever trained it knows the data and the
    scores, and adds them here before the artifact is published. A folder without a card (a whole
    transformers model saves none) gets one that starts with this section.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} does not exist: save the model before describing its run")
    card = directory / CARD_NAME
    existing = card.read_text(encoding="utf-8") + "\n" if card.is_file() else ""
    lines = [f"## {title}", ""]
    for key, value in facts.items():
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        lines.append(f"- **{key}**: {shown}")
    write_atomic(card, (existing + "\n".join(lines) + "\n").encode())
