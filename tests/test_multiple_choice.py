"""A prefix over a multiple-choice head: the head flattens (B, choices, T) to (B * choices, T)."""

import torch
from transformers import AutoModelForMultipleChoice

from prefixes import PrefixConfig, PrefixTuningModel
from prefixes.config import HEAD_TASK_TYPES, ModelConfig
from prefixes.data import collate
from prefixes.task_heads import infer_task_type
from tests.conftest import TINY_CONFIGS, VOCAB


def _tiny_multiple_choice():
    torch.manual_seed(0)
    return AutoModelForMultipleChoice.from_config(TINY_CONFIGS["bert"]()).eval()


def _batch(examples=2, choices=4, seed=3):
    generator = torch.Generator().manual_seed(seed)
    features = [
        {
            "input_ids": [torch.randint(4, VOCAB, (3 + c,), generator=generator).tolist() for c in range(choices)],
            "attention_mask": [[1] * (3 + c) for c in range(choices)],
            "labels": example % choices,
        }
        for example in range(examples)
    ]
    return collate(features, pad_token_id=0)


def test_multiple_choice_is_a_head_task_type():
    assert "multiple_choice" in HEAD_TASK_TYPES
    assert ModelConfig(model_name_or_path="minilm", task_type="multiple_choice").num_labels is None
    assert infer_task_type(_tiny_multiple_choice()) == "multiple_choice"


def test_prefix_trains_through_a_multiple_choice_head():
    model = PrefixTuningModel.from_model(_tiny_multiple_choice(), PrefixConfig(prefix_length=3, prefix_dropout=0.0))
    assert model.task_type == "multiple_choice"
    assert model.head_names == ["classifier.bias", "classifier.weight"]
    batch = _batch()
    assert batch["input_ids"].shape == (2, 4, 6)
    model.train()
    output = model(**batch)
    assert output.logits.shape == (2, 4)
    output.loss.backward()
    trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable.values())
    assert not any(p.grad is not None for name, p in model.named_parameters() if not p.requires_grad)


def test_prefix_changes_every_choice_score_and_per_example_adapters_follow_their_rows():
    base = _tiny_multiple_choice()
    batch = _batch()
    batch.pop("labels")
    with torch.no_grad():
        plain = base(**batch).logits
        model = PrefixTuningModel.from_model(base, PrefixConfig(prefix_length=3, reparameterization=False)).eval()
        model.add_adapter("other")
        prefixed = model(**batch).logits
        assert not torch.allclose(plain, prefixed)
        # Example 0 uses the default adapter, example 1 the other: each must match its own single run.
        mixed = model(task_ids=torch.tensor([0, 1]), **batch).logits
        model.active_adapter = "other"
        other = model(**batch).logits
    torch.testing.assert_close(mixed[0], prefixed[0], atol=1e-4, rtol=0)
    torch.testing.assert_close(mixed[1], other[1], atol=1e-4, rtol=0)


def test_prompt_over_a_multiple_choice_head_trains_and_routes_prompts_of_different_lengths_per_example():
    from prefixes import PromptConfig, PromptTuningModel

    model = PromptTuningModel.from_model(_tiny_multiple_choice(), PromptConfig(num_virtual_tokens=2))
    model.add_adapter("long", PromptConfig(num_virtual_tokens=5))
    batch = _batch()
    model.train()
    output = model(**batch)
    assert output.logits.shape == (2, 4)
    output.loss.backward()
    prompt = next(p for name, p in model.named_parameters() if p.requires_grad and "adapters" in name)
    assert prompt.grad is not None and prompt.grad.abs().sum() > 0
    batch.pop("labels")
    model.eval()
    with torch.no_grad():
        mixed = model(task_ids=torch.tensor([1, 0]), **batch).logits
        for row, task in enumerate([1, 0]):
            model.active_adapter = model.adapter_names[task]
            alone = model(**{key: value[row : row + 1] for key, value in batch.items()}).logits
            torch.testing.assert_close(mixed[row], alone[0], atol=1e-5, rtol=0)
