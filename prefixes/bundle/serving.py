"""Answering text requests with a MultiTaskModel, encoded exactly as training and evaluation encode.

Classification requests go through the classification format's tokenisation, generation requests
through the causal / seq2seq format's prompt construction (with the member's template), so a
request sees the very token ids its task was trained and evaluated on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from prefixes.bundle.manifest import BundleError
from prefixes.data.example import Example
from prefixes.data.formats import classification_inputs, collate
from prefixes.data.generation import prompt_ids
from prefixes.generate import generate_batched
from prefixes.strict import StrictModel

CLASSIFICATION = "text_classification"


class PredictRequest(StrictModel):
    """One request to :meth:`MultiTaskModel.predict`."""

    task: str
    text: str


def predict(bundle, requests: Sequence[Mapping | PredictRequest], *, max_new_tokens: int, batch_size: int) -> list[dict]:
    """See :meth:`MultiTaskModel.predict`."""
    if bundle.model.tokenizer is None:
        raise BundleError("predict needs the base model's tokenizer: pass tokenizer=... along with base_model")
    parsed = [PredictRequest.model_validate(request) for request in requests]
    bundle.task_ids([request.task for request in parsed])  # every task is checked before any work
    if bundle.task_type != CLASSIFICATION:  # and every prompt's length: no work is done to be lost
        _check_prompt_lengths(bundle, parsed, max_new_tokens)
    answers = []
    for start in range(0, len(parsed), batch_size):
        chunk = parsed[start : start + batch_size]
        tasks, texts = [r.task for r in chunk], [r.text for r in chunk]
        if bundle.task_type == CLASSIFICATION:
            outputs = _predict_labels(bundle, tasks, texts)
        else:
            outputs = _predict_texts(bundle, tasks, texts, max_new_tokens)
        answers += [{"task": task, "text": text, **output} for task, text, output in zip(tasks, texts, outputs)]
    return answers


def classification_batch(bundle, texts: list[str]) -> dict[str, torch.Tensor]:
    """The batch the classification format builds for ``texts`` (truncated to the room left)."""
    features, _ = classification_inputs(bundle.model.tokenizer, [Example(text=text) for text in texts],
                                        input_room(bundle, 0))
    return collate(features, pad_token_id=bundle.model.tokenizer.pad_token_id)


def generation_prompts(bundle, tasks: list[str], texts: list[str]) -> list[list[int]]:
    """Each request's prompt ids, as the task's generation format builds them (its template)."""
    causal = not bundle.model.base_model.config.is_encoder_decoder
    return [
        prompt_ids(bundle.model.tokenizer, [Example(text=text)], bundle.templates.get(task), causal=causal)[0]
        for task, text in zip(tasks, texts)
    ]


def _predict_labels(bundle, tasks: list[str], texts: list[str]) -> list[dict]:
    batch = {key: value.to(bundle.device()) for key, value in classification_batch(bundle, texts).items()}
    answers = []
    for task, logits in zip(tasks, bundle.classify(tasks, **batch)):
        index = int(logits.argmax())
        names = bundle.labels[task]
        answers.append({"prediction": names[index] if names else f"LABEL_{index}", "label": index})
    return answers


def _check_prompt_lengths(bundle, requests: list[PredictRequest], max_new_tokens: int) -> None:
    """Refuse, before any generation, a request whose prompt cannot fit (requests counted from 1)."""
    decoder_only = not bundle.model.base_model.config.is_encoder_decoder
    room = input_room(bundle, max_new_tokens if decoder_only else 0)
    prompts = generation_prompts(bundle, [r.task for r in requests], [r.text for r in requests])
    for number, ids in enumerate(prompts, start=1):
        if len(ids) > room:
            raise BundleError(
                f"request {number} takes {len(ids)} tokens; with the longest prefix and "
                f"max_new_tokens={max_new_tokens} only {room} fit: shorten the text or lower max_new_tokens"
            )


def _predict_texts(bundle, tasks: list[str], texts: list[str], max_new_tokens: int) -> list[dict]:
    tokenizer = bundle.model.tokenizer
    answers = generate_batched(bundle.model, generation_prompts(bundle, tasks, texts), pad_token_id=tokenizer.pad_token_id,
                               batch_size=len(texts), task_ids=bundle.task_ids(tasks).tolist(),
                               max_new_tokens=max_new_tokens, do_sample=False)
    return [{"prediction": text.strip()} for text in tokenizer.batch_decode(answers, skip_special_tokens=True)]


def input_room(bundle, reserved: int) -> int:
    """Real tokens that fit beside the longest virtual prefix and ``reserved`` new tokens."""
    # Virtual tokens take position slots: real tokens are positioned after them.
    limit = bundle.model.tokenizer.model_max_length  # a huge sentinel when the tokenizer sets no limit
    positions = getattr(bundle.model.base_model.config.get_text_config(), "max_position_embeddings", None)
    longest = max(adapter.length for adapter in bundle.model.adapters.values())
    return min(limit, positions or limit) - longest - reserved
