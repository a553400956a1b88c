"""Batched, left-padded generation gives every prompt the tokens it gets alone, for every method kind."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY_CONFIGS, saved_tiny_lm, tiny_model
from transformers import AutoModelForSeq2SeqLM

from prefixes import PrefixConfig, PrefixTuningModel, PromptConfig, PromptTuningModel
from prefixes.config import ModelConfig
from prefixes.generate import generate_batched
from prefixes.methods.full_finetune.wrapper import FullFinetuneModel
from prefixes.methods.lora.config import LoraConfig
from prefixes.methods.lora.wrapper import LoraModel

LENGTHS = (3, 8, 5, 1, 6)
SEARCHES = {"greedy": {"do_sample": False}, "beam": {"do_sample": False, "num_beams": 3}}


def _prompts(vocab: int = 90) -> list[list[int]]:
    generator = torch.Generator().manual_seed(3)
    return [torch.randint(4, vocab, (length,), generator=generator).tolist() for length in LENGTHS]


def _alone(model, prompt: list[int], eos: int, task: int | None = None, **search) -> list[int]:
    """One prompt, unpadded, through the wrapper's generate; its new tokens up to the first EOS."""
    ids = torch.tensor([prompt])
    extra = {} if task is None else {"task_ids": torch.tensor([task])}
    output = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=7, pad_token_id=0,
                            **extra, **search)
    tokens = output[0, len(prompt) :].tolist()
    return tokens[: tokens.index(eos) + 1] if eos in tokens else tokens


def _two_task(make, arch: str = "llama", base=None, scale: float = 3.0):
    torch.manual_seed(0)
    model = make(tiny_model(arch) if base is None else base, 2)
    model.add_adapter("long", make(None, 5))
    with torch.no_grad():
        for param in model.adapters.parameters():
            param.mul_(scale)
    return model.eval()  # the added adapter too: no dropout


METHODS = {
    "prefix": lambda base, length: (PrefixTuningModel.from_model(base, PrefixConfig(prefix_length=length))
                                    if base is not None else PrefixConfig(prefix_length=length)),
    "prompt": lambda base, length: (PromptTuningModel.from_model(base, PromptConfig(num_virtual_tokens=length))
                                    if base is not None else PromptConfig(num_virtual_tokens=length)),
}


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("search", sorted(SEARCHES))
@pytest.mark.parametrize("mixed", [False, True], ids=["one_task", "mixed_tasks"])
def test_batched_generation_equals_each_prompt_alone(method, search, mixed):
    model = _two_task(METHODS[method])
    prompts, eos = _prompts(), model.base_model.generation_config.eos_token_id
    tasks = [1, 0, 1, 1, 0] if mixed else None
    batched = generate_batched(model, prompts, pad_token_id=0, batch_size=3, task_ids=tasks, max_new_tokens=7,
                               **SEARCHES[search])
    expected = []
    for index, prompt in enumerate(prompts):
        if tasks is None:
            expected.append(_alone(model, prompt, eos, **SEARCHES[search]))
        else:
            expected.append(_alone(model, prompt, eos, task=tasks[index], **SEARCHES[search]))
    assert batched == expected
    assert {len(tokens) for tokens in batched} <= set(range(1, 8)) and len(batched) == len(prompts)


@pytest.fixture(scope="module")
def saved_lm(tmp_path_factory):
    folder = saved_tiny_lm(tmp_path_factory.mktemp("tiny_lm"))
    return ModelConfig(model_name_or_path=str(folder), task_type="text_generation")


@pytest.mark.parametrize("baseline", ["full_finetune", "lora"])
def test_baselines_generate_in_batches_what_each_prompt_generates_alone(saved_lm, baseline):
    model = (FullFinetuneModel(saved_lm) if baseline == "full_finetune" else LoraModel(saved_lm, LoraConfig())).eval()
    prompts, eos = _prompts(vocab=1000), model.base_model.generation_config.eos_token_id
    batched = generate_batched(model, prompts, pad_token_id=0, batch_size=4, max_new_tokens=7, do_sample=False)
    assert batched == [_alone(model, prompt, eos, do_sample=False) for prompt in prompts]


@pytest.mark.parametrize(("arch", "attention"), [("t5", "sdpa"), ("t5", "eager"), ("bart", "sdpa")])
def test_encoder_decoder_answers_keep_the_decoders_start_token(arch, attention):
    # BART numbers encoder positions from the first slot: padding there would move its tokens.
    config = TINY_CONFIGS[arch]()
    config.init_std, config.initializer_factor = 0.5, 10.0  # (BART's, T5's) wide weights: varied answers
    base = AutoModelForSeq2SeqLM.from_config(config, attn_implementation=attention)
    model = _two_task(METHODS["prefix"], base=base, scale=1.0)
    pad, eos = base.config.pad_token_id, base.generation_config.eos_token_id
    prompts, tasks = _prompts(), [0, 1, 1, 0, 1]
    batched = generate_batched(model, prompts, pad_token_id=pad, batch_size=3, task_ids=tasks, max_new_tokens=6,
                               do_sample=False)
    for prompt, task, tokens in zip(prompts, tasks, batched):
        ids = torch.tensor([prompt])
        model.active_adapter = model.adapter_names[task]
        alone = model.generate(input_ids=ids, max_new_tokens=6, do_sample=False, pad_token_id=pad)[0].tolist()
        assert tokens == (alone[: alone.index(eos, 1) + 1] if eos in alone[1:] else alone)
        assert tokens[0] == base.config.decoder_start_token_id
    assert len({tuple(tokens) for tokens in batched}) > 1  # the prompts decide the answers


def test_a_batch_size_below_one_is_refused():
    model = _two_task(METHODS["prefix"])
    with pytest.raises(ValueError, match=r"batch_size=0"):
        generate_batched(model, _prompts(), pad_token_id=0, batch_size=0, max_new_tokens=2)
