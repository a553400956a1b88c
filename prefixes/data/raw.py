"""Raw rows (dicts of ``Example`` fields, or a ``datasets.Dataset``) -> a model's training features.

The trainers take raw examples as readily as features: the task format follows the model's
``task_type`` and tokenizer, and class names come from the model's head config (its id2label).
Rows that already hold ``input_ids`` are features and pass through unchanged, except that
causal-LM features without ``labels`` learn every real (unpadded) token.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any

from prefixes.data.choice import MultipleChoiceFormat
from prefixes.data.example import FIELDS, SQUAD_LABELS, SQUAD_NAMES, DataError, Example, row_name
from prefixes.data.formats import ClassificationFormat
from prefixes.data.generation import CausalGenerationFormat, Seq2SeqGenerationFormat
from prefixes.data.qa import ExtractiveQAFormat
from prefixes.data.truncation import IGNORE_INDEX

# Without a model or tokenizer limit, raw text is cut here (BERT-sized encoders' window).
FALLBACK_MAX_LENGTH = 512


def as_features(model: Any, dataset: Any, max_length: int | None = None) -> Any:
    """``dataset`` as features ``model`` trains on: raw rows are encoded, feature rows pass through.

    ``max_length`` cuts raw examples (default: ``default_max_length(model)``). A dataset whose rows
    are not mappings (a custom torch dataset) is the caller's own features and is returned as is.
    """
    if dataset is None or len(dataset) == 0 or not isinstance(dataset[0], Mapping):
        return dataset
    if "input_ids" in dataset[0]:
        needs_labels = model.task_type == "text_generation" and "labels" not in dataset[0]
        return [with_lm_labels(row) for row in dataset] if needs_labels else dataset
    if model.tokenizer is None:
        raise DataError(
            "raw examples need the model's tokenizer: build the model with tokenizer=..., "
            "or pass features that hold input_ids"
        )
    rows = list(dataset)
    label_names = _label_names(model, rows)
    examples = [example_from_row(row, index, label_names) for index, row in enumerate(rows)]
    task_format = format_for_model(model, label_names, max_length or default_max_length(model))
    features, _ = task_format.encode(examples)
    return features


def with_lm_labels(row: Mapping[str, Any]) -> dict[str, Any]:
    """A causal-LM feature with labels = its input_ids, padding (attention_mask 0) ignored by the loss."""
    ids = [int(token) for token in row["input_ids"]]
    mask = row.get("attention_mask")
    visible = [int(flag) for flag in mask] if mask is not None else [1] * len(ids)
    return {**row, "labels": [token if flag else IGNORE_INDEX for token, flag in zip(ids, visible)]}


def example_from_row(row: Mapping[str, Any], index: int, label_names: Sequence[str] | None) -> Example:
    """One raw row as an ``Example``; an int label is the id of a name in ``label_names``."""
    at = row_name(None, index)
    # SQuAD rows come as they are: question and context name text and text_pair; id and title go unread.
    fields = {SQUAD_NAMES.get(key, key): value for key, value in row.items() if key not in SQUAD_LABELS}
    twice = sorted(name for name, field in SQUAD_NAMES.items() if name in row and field in row)
    if twice:
        raise DataError(f"{at} holds both {twice[0]!r} and {SQUAD_NAMES[twice[0]]!r}, two names of one field: keep one")
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise DataError(
            f"{at} field {unknown[0]!r} is not an example field: use {list(FIELDS)} "
            f"(or SQuAD's 'question' and 'context'), or pass features with input_ids"
        )
    if not isinstance(fields.get("text"), str):
        raise DataError(f"{at} field 'text' holds {fields.get('text')!r}: every example needs its text as a string")
    if fields.get("label") is not None:
        fields["label"] = _label_name(fields["label"], label_names, at)
    if fields.get("answers") is not None:
        fields["answers"] = _answers(fields["answers"], at)
    if fields.get("choices") is not None:
        fields["choices"] = tuple(fields["choices"])
    return Example(**fields)


def _label_name(label: Any, label_names: Sequence[str] | None, at: str) -> str:
    if isinstance(label, str):
        return label  # the format checks it is among the names, naming the row
    if not isinstance(label, int) or label_names is None or not 0 <= label < len(label_names):
        allowed = f"an id below {len(label_names)} or one of {list(label_names)}" if label_names else "no label"
        raise DataError(f"{at} field 'label' holds {label!r}; this model's task takes {allowed}: fix the label")
    return label_names[label]


def _answers(answers: Any, at: str) -> tuple[tuple[str, int], ...]:
    """QA answers as (text, char_start) pairs; SQuAD's {"text": [...], "answer_start": [...]} too."""
    if isinstance(answers, Mapping):
        if set(answers) != {"text", "answer_start"}:
            raise DataError(f"{at} field 'answers' holds keys {sorted(answers)}: use 'text' and 'answer_start' lists")
        answers = list(zip(answers["text"], answers["answer_start"]))
    try:
        return tuple((str(text), int(start)) for text, start in answers)
    except (TypeError, ValueError):
        raise DataError(
            f"{at} field 'answers' holds {answers!r}: give (text, char_start) pairs, or [] when unanswerable"
        ) from None


def _label_names(model: Any, rows: list[Mapping[str, Any]]) -> list[str] | None:
    """The class names labels index: the head's id2label, or one letter per choice (A, B, ...)."""
    if model.task_type == "text_classification":
        id2label = model.base_model.config.id2label
        names = [str(id2label[index]) for index in range(len(id2label))]
        if names == [f"LABEL_{index}" for index in range(len(names))] and _named_labels(rows) - set(names):
            return _adopt_data_label_names(model, rows)
        return names
    if model.task_type == "multiple_choice":
        count = len(rows[0].get("choices") or ())
        return list(string.ascii_uppercase[:count])
    return None


def _named_labels(rows: list[Mapping[str, Any]]) -> set[str]:
    return {row["label"] for row in rows if isinstance(row.get("label"), str)}


def _adopt_data_label_names(model: Any, rows: list[Mapping[str, Any]]) -> list[str]:
    """No class names were given (transformers' LABEL_0, ...), so they come from the data, sorted as
    sklearn's LabelEncoder sorts them, and go into the head's config: the artifact records them as
    given names, and later splits and predictions use the same ids."""
    names = sorted(_named_labels(rows))
    config = model.base_model.config
    if len(names) != config.num_labels:
        raise DataError(
            f"the examples' labels name {len(names)} classes {names[:10]}, but the model's head has "
            f"num_labels={config.num_labels}: set num_labels={len(names)} or pass label_names in ModelConfig"
        )
    config.id2label = dict(enumerate(names))
    config.label2id = {name: index for index, name in enumerate(names)}
    return names


def format_for_model(model: Any, label_names: list[str] | None, max_length: int) -> Any:
    """The tokenising format of the model's task type (the formats of ``prefixes.data``)."""
    task, tokenizer = model.task_type, model.tokenizer
    if task == "text_classification":
        return ClassificationFormat(tokenizer, label_names or [], max_length)
    if task == "multiple_choice":
        return MultipleChoiceFormat(tokenizer, label_names or [], max_length)
    if task == "question_answering":
        return ExtractiveQAFormat(tokenizer, max_length)
    if task == "text_generation":
        return CausalGenerationFormat(tokenizer, max_length)
    if task == "seq2seq_generation":
        return Seq2SeqGenerationFormat(tokenizer, max_length)
    raise DataError(
        f"task_type={task!r} has no raw-example format: pass features (input_ids, attention_mask, labels) instead"
    )


def default_max_length(model: Any) -> int:
    """The longest raw example kept: what the tokenizer and position table take, less the virtual
    tokens (absolute-position models give the prefix or prompt positions of their own)."""
    limits = []
    tokenizer_limit = getattr(model.tokenizer, "model_max_length", None)
    if isinstance(tokenizer_limit, int) and tokenizer_limit < 10**6:  # unset limits are a huge sentinel
        limits.append(tokenizer_limit)
    positions = getattr(model.base_model.config, "max_position_embeddings", None)
    if isinstance(positions, int):
        reserved = max((getattr(adapter, "length", 0) for adapter in model.adapters.values()), default=0)
        limits.append(positions - reserved)
    return min(limits, default=FALLBACK_MAX_LENGTH)
