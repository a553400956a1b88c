"""The contenders: our wrappers, PEFT's, and two references (bare floor, full fine-tuning) as callables.

Every side gets a fresh base model from the same ``Workload``, the same batch and AdamW
settings, so a timing difference is the method's own cost.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from peft import PrefixTuningConfig, PromptTuningConfig, TaskType, get_peft_model
from torch import nn

from bench.workloads import Workload
from prefixes import PrefixConfig, PrefixTuningModel, PromptConfig, PromptTuningModel

PREFIX_HIDDEN = 512  # the prefix MLP's hidden width, on both sides
LEARNING_RATE = 1e-4  # irrelevant to speed; fixed so every side runs the same optimizer

OURS = {"prefix": "ours_prefix", "flat": "ours_flat", "prompt": "ours_prompt"}
PEFT = {"prefix": "peft_prefix", "flat": "peft_flat", "prompt": "peft_prompt"}
TRAIN_SIDES = (*OURS.values(), *PEFT.values(), "bare", "full")

_PEFT_TASK = {"text_generation": TaskType.CAUSAL_LM, "text_classification": TaskType.SEQ_CLS}


def _ours(method: str, hf: nn.Module, workload: Workload) -> nn.Module:
    if method == "prompt":
        return PromptTuningModel.from_model(hf, PromptConfig(num_virtual_tokens=workload.prefix), task_type=workload.task_type)
    config = PrefixConfig(
        prefix_length=workload.prefix,
        prefix_hidden_size=PREFIX_HIDDEN,
        reparameterization=method == "prefix",
        prefix_dropout=0.0,
    )
    return PrefixTuningModel.from_model(hf, config, task_type=workload.task_type)


def peft_config(method: str, workload: Workload):
    """PEFT's equivalent of our method: P-tuning v2 is PEFT prefix tuning without the projection."""
    task = _PEFT_TASK[workload.task_type]
    if method == "prompt":
        return PromptTuningConfig(task_type=task, num_virtual_tokens=workload.prefix)
    return PrefixTuningConfig(
        task_type=task,
        num_virtual_tokens=workload.prefix,
        prefix_projection=method == "prefix",
        encoder_hidden_size=PREFIX_HIDDEN,
    )


def build(side: str, workload: Workload, *, checkpointing: bool = False) -> nn.Module:
    """A fresh model for ``side``; raises what the library raises when the side cannot run."""
    hf = workload.load()
    kind, _, method = side.partition("_")
    if kind == "ours":
        model = _ours(method, hf, workload)
        if checkpointing:
            model.gradient_checkpointing_enable()
        return model
    if checkpointing:
        hf.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if kind == "peft":
        return get_peft_model(hf, peft_config(method, workload))
    if side == "bare":
        hf.requires_grad_(False)
    elif side != "full":
        raise ValueError(f"unknown side {side!r}; expected one of {TRAIN_SIDES}")
    return hf


def train_step(side: str, workload: Workload, *, checkpointing: bool = False, with_model: bool = False):
    """One training step of ``side`` as a callable: forward, backward, AdamW step; returns the loss.

    With ``with_model`` the model is returned too: ``(step, model)``.

    The bare floor runs the frozen model with input embeddings that require grad: the backward
    pass then reaches the first layer (as a prefix's gradient must) without any weight gradient,
    and there is nothing to optimize.
    """
    model = build(side, workload, checkpointing=checkpointing)
    model.train()
    batch = workload.inputs()
    if side == "bare":
        embed = model.get_input_embeddings()
        ids = batch.pop("input_ids")

        def bare_step() -> float:
            embeds = embed(ids).detach().requires_grad_(True)  # (B, T, hidden)
            loss = model(inputs_embeds=embeds, **batch).loss
            loss.backward()
            return loss.item()

        return (bare_step, model) if with_model else bare_step
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LEARNING_RATE)

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        return loss.item()

    return (step, model) if with_model else step


def runnable_steps(makers: dict[str, Callable[[], Callable[[], float]]]) -> tuple[dict, dict[str, str]]:
    """The step of each maker that builds and runs once, and the error of each one that cannot."""
    steps, errors = {}, {}
    for name, make in makers.items():
        try:
            steps[name] = make()
            steps[name]()  # some failures (PEFT prefixes on BERT) only show in the forward
        except Exception as error:  # noqa: BLE001 - a side that cannot run is a result, not a crash
            errors[name] = failure(error)
            steps.pop(name, None)
    return steps, errors


def failure(error: BaseException) -> str:
    """An exception as a one-line note for a record."""
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
