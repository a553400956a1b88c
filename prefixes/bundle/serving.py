"""Answering text requests with a MultiTaskModel, encoded exactly as training and evaluation encode.

Classification requests (single texts and pairs) go through the classification format's
tokenisation, extractive QA requests (question in `text`, context in `text_pair`) through the QA
format's, multiple-choice requests (question in `text`, candidate answers in `choices`) through
the multiple-choice format's, generation requests through the causal / seq2seq format's prompt construction (with the
member's template), so a request sees the very token ids its task was trained and evaluated on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

import torch

from prefixes.bundle.manifest import BundleError
from prefixes.data.choice import choice_inputs
from prefixes.data.example import Example
from prefixes.data.formats import classification_inputs, collate
from prefixes.data.generation import prompt_ids
from prefixes.data.qa import ExtractiveQAFormat
from prefixes.generate import generate_batched
from prefixes.metrics import decode_answers
from prefixes.strict import StrictModel

CLASSIFICATION = "text_classification"
QUESTION_ANSWERING = "question_answering"
MULTIPLE_CHOICE = "multiple_choice"


class PredictRequest(StrictModel):
    """One request to :meth:`MultiTaskModel.predict`."""

    task: str
    text: str
    text_pair: str | None = None
    """Pair classification (NLI): the second text, e.g. the hypothesis to the premise in ``text``;
    extractive QA: the context to answer the question in ``text`` from."""
    choices: list[str] | None = None
    """Multiple choice: the candidate answers to the question in ``text``, two or more."""


def predict(bundle, requests: Sequence[Mapping | PredictRequest], *, max_new_tokens: int, batch_size: int) -> list[dict]:
    """See :meth:`MultiTaskModel.predict`."""
    if bundle.model.tokenizer is None:
        raise BundleError("predict needs the base model's tokenizer: pass tokenizer=... along with base_model")
    parsed = [PredictRequest.model_validate(request) for request in requests]
    bundle.task_ids([request.task for request in parsed])  # every task is checked before any work
    _check_choices(parsed, bundle.task_type == MULTIPLE_CHOICE)
    if bundle.task_type == QUESTION_ANSWERING:
        _check_contexts(parsed)
    elif bundle.task_type == MULTIPLE_CHOICE:
        _check_no_pairs(parsed)
    elif bundle.task_type != CLASSIFICATION:  # and every prompt's length: no work is done to be lost
        _check_no_pairs(parsed)
        _check_prompt_lengths(bundle, parsed, max_new_tokens)
    answers = []
    for start in range(0, len(parsed), batch_size):
        chunk = parsed[start : start + batch_size]
        tasks, texts = [r.task for r in chunk], [r.text for r in chunk]
        examples = [Example(text=r.text, text_pair=r.text_pair, choices=_tuple(r.choices)) for r in chunk]
        if bundle.task_type == CLASSIFICATION:
            outputs = _predict_labels(bundle, tasks, examples)
        elif bundle.task_type == MULTIPLE_CHOICE:
            outputs = _predict_choices(bundle, tasks, examples)
        elif bundle.task_type == QUESTION_ANSWERING:
            outputs = _predict_answers(bundle, tasks, examples, batch_size)
        else:
            outputs = _predict_texts(bundle, tasks, texts, max_new_tokens)
        answers += [request.model_dump(exclude_none=True) | output for request, output in zip(chunk, outputs)]
    return answers


def classification_batch(bundle, examples: list[Example]) -> dict[str, torch.Tensor]:
    """The batch the classification format builds for ``examples``, single texts and pairs mixed
    (each truncated to the room left, a pair's longest text first)."""
    room = input_room(bundle, 0)
    features = [classification_inputs(bundle.model.tokenizer, [example], room)[0][0] for example in examples]
    if any("token_type_ids" in feature for feature in features):
        # A single text is all segment 0: the ids a BERT-style model assumes when given none.
        for feature in features:
            feature.setdefault("token_type_ids", [0] * len(feature["input_ids"]))
    return collate(features, pad_token_id=bundle.model.tokenizer.pad_token_id)


def _check_no_pairs(requests: list[PredictRequest]) -> None:
    for number, request in enumerate(requests, start=1):
        if request.text_pair is not None:
            raise BundleError(f"request {number} (task {request.task!r}) gives a text_pair: only pair "
                              "classification and extractive QA tasks take one; send the question or prompt "
                              "in 'text' alone")


def _check_choices(requests: list[PredictRequest], multiple_choice: bool) -> None:
    for number, request in enumerate(requests, start=1):
        count = len(request.choices or ())
        if multiple_choice and (count < 2 or not all(choice.strip() for choice in request.choices or ())):
            raise BundleError(f"request {number} (task {request.task!r}) gives {count} choices: a multiple-choice "
                              "request gives the question in 'text' and two or more non-empty answers in 'choices'")
        if not multiple_choice and request.choices is not None:
            raise BundleError(f"request {number} (task {request.task!r}) gives choices: only multiple-choice "
                              "tasks take them; drop 'choices'")


def _tuple(choices: list[str] | None) -> tuple[str, ...] | None:
    return None if choices is None else tuple(choices)


def generation_prompts(bundle, tasks: list[str], texts: list[str]) -> list[list[int]]:
    """Each request's prompt ids, as the task's generation format builds them (its template)."""
    causal = not bundle.model.base_model.config.is_encoder_decoder
    return [
        prompt_ids(bundle.model.tokenizer, [Example(text=text)], bundle.templates.get(task), causal=causal)[0]
        for task, text in zip(tasks, texts)
    ]


def _check_contexts(requests: list[PredictRequest]) -> None:
    for number, request in enumerate(requests, start=1):
        if request.text_pair is None:
            raise BundleError(f"request {number} (task {request.task!r}) has no text_pair: an extractive QA "
                              "request gives the question in 'text' and the context to answer from in 'text_pair'")


def _predict_answers(bundle, tasks: list[str], examples: list[Example], batch_size: int) -> list[dict]:
    """The context span each task's head picks over the windows of its context, cut from the
    context by the tokens' character offsets."""
    features, _ = ExtractiveQAFormat(bundle.model.tokenizer, input_room(bundle, 0)).inputs(examples)
    windows = features.windows
    starts: list[list[float]] = []
    ends: list[list[float]] = []
    for first in range(0, len(features), batch_size):  # a long context is many windows
        rows = features[first : first + batch_size]
        batch = {key: value.to(bundle.device())
                 for key, value in collate(rows, pad_token_id=bundle.model.tokenizer.pad_token_id).items()}
        with torch.no_grad():
            output = bundle([tasks[i] for i in windows.example[first : first + batch_size]], **batch)
        width = batch["input_ids"].shape[1]  # prompt tuning puts its virtual tokens first
        starts += output.start_logits[:, -width:].float().cpu().tolist()
        ends += output.end_logits[:, -width:].float().cpu().tolist()
    answers = decode_answers(starts, ends, windows.offsets, windows.example, windows.contexts)
    return [{"prediction": answer} for answer in answers]


def _predict_choices(bundle, tasks: list[str], examples: list[Example]) -> list[dict]:
    """The choice each task's head scores highest; one forward per number of choices in the chunk."""
    features = choice_inputs(bundle.model.tokenizer, examples, input_room(bundle, 0))
    answers: dict[int, dict] = {}
    for count in sorted({len(cast(tuple, example.choices)) for example in examples}):
        rows = [index for index, example in enumerate(examples) if len(cast(tuple, example.choices)) == count]
        batch = collate([features[i] for i in rows], pad_token_id=bundle.model.tokenizer.pad_token_id)
        with torch.no_grad():
            logits = bundle([tasks[i] for i in rows], **{key: value.to(bundle.device()) for key, value in batch.items()}).logits
        for index, scores in zip(rows, logits):
            choice = int(scores.argmax())
            answers[index] = {"prediction": cast(tuple, examples[index].choices)[choice], "label": choice}
    return [answers[index] for index in range(len(examples))]


def _predict_labels(bundle, tasks: list[str], examples: list[Example]) -> list[dict]:
    batch = {key: value.to(bundle.device()) for key, value in classification_batch(bundle, examples).items()}
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
