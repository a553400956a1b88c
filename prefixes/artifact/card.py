"""The README.md model card written next to every folded artifact: what it is, for people."""

from __future__ import annotations

from prefixes.artifact.schema import ArtifactConfig


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
        "Data fingerprint and test metrics are recorded where the artifact is published: "
        "`prefixes registry show <task> --method " + config.method + " --version <vN>`.",
        "",
        "```python",
        "from prefixes import load_adapter",
        "",
        "model = load_adapter(\"path/to/this/folder\")  # loads the base model, checks its fingerprint",
        "```",
        "",
    ]
    return "\n".join(lines)
