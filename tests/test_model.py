"""Behaviour of the wrappers: frozen base, exact parameter counts, checkpointing, generation, mixed batches."""

from __future__ import annotations

import pytest
import torch
from conftest import right_padded_batch, tiny_model

from prefixes import PrefixConfig, PrefixTuningModel, PromptConfig, PromptTuningModel


def _train(model, steps: int = 5, **batch):
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    losses = []
    for _ in range(steps):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize(
    "arch,make,task_batch",
    [
        ("llama", lambda b: PrefixTuningModel.from_model(b, PrefixConfig(prefix_length=4, prefix_hidden_size=16)), "lm"),
        ("llama", lambda b: PrefixTuningModel.from_model(b, PrefixConfig(prefix_length=4, reparameterization=False)), "lm"),
        ("bert", lambda b: PrefixTuningModel.from_model(b, PrefixConfig(prefix_length=4, reparameterization=False)), "cls"),
        ("gpt2", lambda b: PromptTuningModel.from_model(b, PromptConfig(num_virtual_tokens=4)), "lm"),
    ],
    ids=["prefix_mlp", "p_tuning_v2", "p_tuning_v2_cls", "prompt"],
)
def test_only_trainable_tensors_change_and_loss_falls(arch, make, task_batch):
    model = make(tiny_model(arch)).train()
    ids, mask = right_padded_batch()
    labels = ids.masked_fill(mask == 0, -100) if task_batch == "lm" else torch.tensor([0, 2, 1])
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    trainable = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    losses = _train(model, input_ids=ids, attention_mask=mask, labels=labels)
    params = dict(model.named_parameters())
    assert all(torch.equal(params[n], before) for n, before in frozen.items())
    assert all(not torch.equal(params[n], before) for n, before in trainable.items())
    assert losses[-1] < losses[0]


def test_exact_trainable_parameter_counts():
    layers, kv_heads, head_dim, hidden, vocab = 2, 2, 8, 32, 96
    flat = PrefixTuningModel.from_model(tiny_model("llama"), PrefixConfig(prefix_length=10, reparameterization=False))
    assert flat.num_trainable_parameters() == 10 * layers * 2 * kv_heads * head_dim
    mlp = PrefixTuningModel.from_model(tiny_model("llama"), PrefixConfig(prefix_length=10, prefix_hidden_size=16))
    width = layers * 2 * kv_heads * head_dim
    assert mlp.num_trainable_parameters() == 10 * hidden + (hidden * 16 + 16) + (16 * width + width)
    assert mlp.adapters["default"].folded().numel() == 10 * layers * 2 * kv_heads * head_dim
    prompt = PromptTuningModel.from_model(tiny_model("llama"), PromptConfig(num_virtual_tokens=7))
    assert prompt.num_trainable_parameters() == 7 * hidden
    # P-tuning v2 with a classification head: the BERT classifier (hidden -> 3) trains too.
    cls = PrefixTuningModel.from_model(tiny_model("bert"), PrefixConfig(prefix_length=10, reparameterization=False))
    assert cls.head_names == ["classifier.bias", "classifier.weight"]
    assert cls.num_trainable_parameters() == 10 * layers * 2 * 4 * 8 + hidden * 3 + 3
    assert vocab == tiny_model("llama").config.vocab_size


@pytest.mark.parametrize("arch", ["llama", "bert", "t5"])
def test_gradient_checkpointing_gives_same_loss_and_gradients(arch):
    ids, mask = right_padded_batch()
    extra = {"labels": ids} if arch == "llama" else {"labels": torch.tensor([0, 1, 2])}
    if arch == "t5":
        extra = {"labels": ids[:, :4].contiguous()}
    results = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        model = PrefixTuningModel.from_model(tiny_model(arch), PrefixConfig(prefix_length=3, prefix_dropout=0.0)).train()
        if checkpointing:
            model.gradient_checkpointing_enable()
        loss = model(input_ids=ids, attention_mask=mask, **extra).loss
        loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
        results.append((loss.item(), grads))
    (loss_off, grads_off), (loss_on, grads_on) = results
    assert loss_on == pytest.approx(loss_off, abs=1e-6)
    assert grads_off.keys() == grads_on.keys()
    for name in grads_off:
        assert torch.allclose(grads_on[name], grads_off[name], atol=1e-6), name
        assert grads_on[name].abs().sum() > 0, name


@pytest.mark.parametrize(
    "arch,make",
    [
        ("llama", lambda b: PrefixTuningModel.from_model(b, PrefixConfig(prefix_length=4))),
        ("gpt2", lambda b: PrefixTuningModel.from_model(b, PrefixConfig(prefix_length=4, reparameterization=False))),
        ("llama", lambda b: PromptTuningModel.from_model(b, PromptConfig(num_virtual_tokens=4))),
        ("t5", lambda b: PrefixTuningModel.from_model(b, PrefixConfig(prefix_length=4))),
        ("bart", lambda b: PromptTuningModel.from_model(b, PromptConfig(num_virtual_tokens=4))),
    ],
    ids=["llama_prefix", "gpt2_flat", "llama_prompt", "t5_prefix", "bart_prompt"],
)
def test_generation_with_cache_equals_without_and_beam_search_runs(arch, make):
    torch.manual_seed(0)
    model = make(tiny_model(arch)).eval()
    with torch.no_grad():
        for param in model.adapters.parameters():
            param.mul_(3.0)  # a strong prefix, so generation visibly depends on it
    ids = torch.randint(4, 90, (2, 5), generator=torch.Generator().manual_seed(2))
    settings = {"max_new_tokens": 6, "do_sample": False, "pad_token_id": 0}
    cached = model.generate(input_ids=ids, use_cache=True, **settings)
    uncached = model.generate(input_ids=ids, use_cache=False, **settings)
    assert torch.equal(cached, uncached)
    beams = model.generate(input_ids=ids, num_beams=3, num_return_sequences=2, **settings)
    assert beams.shape[0] == 4
    sampled = model.generate(input_ids=ids, do_sample=True, top_k=5, max_new_tokens=4, pad_token_id=0)
    assert sampled.shape[0] == 2


@pytest.mark.parametrize("arch", ["llama", "gpt2", "bert", "roberta", "t5"])
@pytest.mark.parametrize("method", ["prefix", "prompt"])
def test_mixed_batch_equals_each_example_alone(arch, method):
    torch.manual_seed(0)
    if method == "prefix":
        model = PrefixTuningModel.from_model(tiny_model(arch), PrefixConfig(prefix_length=3, prefix_dropout=0.0)).eval()
        model.add_adapter("long", PrefixConfig(prefix_length=6, prefix_dropout=0.0))
    else:
        model = PromptTuningModel.from_model(tiny_model(arch), PromptConfig(num_virtual_tokens=3)).eval()
        model.add_adapter("long", PromptConfig(num_virtual_tokens=6))
    ids, mask = right_padded_batch()
    if arch == "roberta":
        ids = ids.masked_fill(mask == 0, 1)
    task_ids = torch.tensor([1, 0, 1])
    extra = {"decoder_input_ids": ids[:, :4]} if arch == "t5" else {}
    with torch.no_grad():
        mixed = model(input_ids=ids, attention_mask=mask, task_ids=task_ids, **extra).logits
        for row, task in enumerate(task_ids.tolist()):
            model.active_adapter = model.adapter_names[task]
            alone = model(input_ids=ids[row:row + 1], attention_mask=mask[row:row + 1],
                          **{k: v[row:row + 1] for k, v in extra.items()}).logits
            if arch in ("llama", "gpt2"):  # token logits: compare the real tokens (the last positions)
                length = int(mask[row].sum())
                got = mixed[row, -ids.shape[1]:][:length]
                want = alone[0, -ids.shape[1]:][:length]
            elif arch == "t5":
                got, want = mixed[row], alone[0]
            else:
                got, want = mixed[row], alone[0]
            assert torch.allclose(got, want, atol=1e-5), (row, (got - want).abs().max())


def test_mixed_batch_generation_matches_alone():
    torch.manual_seed(0)
    model = PrefixTuningModel.from_model(tiny_model("llama"), PrefixConfig(prefix_length=2)).eval()
    model.add_adapter("other", PrefixConfig(prefix_length=5))
    with torch.no_grad():
        for param in model.adapters.parameters():
            param.mul_(3.0)
    ids = torch.randint(4, 90, (2, 5), generator=torch.Generator().manual_seed(2))
    mixed = model.generate(input_ids=ids, task_ids=torch.tensor([0, 1]), max_new_tokens=5, do_sample=False, pad_token_id=0)
    for row in range(2):
        model.active_adapter = model.adapter_names[row]
        alone = model.generate(input_ids=ids[row:row + 1], max_new_tokens=5, do_sample=False, pad_token_id=0)
        assert torch.equal(mixed[row], alone[0])


def test_no_grad_pass_between_steps_does_not_freeze_training():
    """A validation pass under no_grad must not leave a cached, graph-less prefix behind."""
    model = PrefixTuningModel.from_model(tiny_model("llama"), PrefixConfig(prefix_length=3)).train()
    ids, mask = right_padded_batch()
    with torch.no_grad():
        model(input_ids=ids, attention_mask=mask)
    loss = model(input_ids=ids, attention_mask=mask, labels=ids).loss
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.adapters.parameters())
