"""Serving encodes a request exactly as the task's data format encodes the same example for training/evaluation."""

from __future__ import annotations

import torch
from conftest import TINY_CONFIGS
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, LlamaConfig

from prefixes import MultiTaskModel, PrefixConfig, PrefixTuningModel
from prefixes.base_models import load_tokenizer, resolve_model_path
from prefixes.bundle import build_manifest, write_manifest
from prefixes.data import CausalGenerationFormat, ClassificationFormat, Example

TEXTS = ["good morning to you", "a much longer request about the weather in the hills today", "thanks"]


def _tokenizer():
    tokenizer = load_tokenizer(resolve_model_path("minilm"))
    tokenizer.eos_token = "[SEP]"  # the causal format needs an end-of-text token
    return tokenizer


def _captured(monkeypatch, model, method: str) -> list[torch.Tensor]:
    """Record the input_ids (and mask) the bundle's model is called with."""
    calls = []
    original = getattr(model, method)

    def record(*args, **kwargs):
        calls.append((kwargs["input_ids"], kwargs["attention_mask"]))
        return original(*args, **kwargs)

    monkeypatch.setattr(model, method, record)
    return calls


def _unpadded(calls) -> list[list[int]]:
    ids, mask = calls[0]
    return [row[mask_row.bool()].tolist() for row, mask_row in zip(ids, mask)]


def test_predict_builds_the_causal_formats_prompt_ids(tmp_path, monkeypatch):
    tokenizer = _tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=64, vocab_size=tokenizer.vocab_size, pad_token_id=0)
    base = AutoModelForCausalLM.from_config(config).eval()
    PrefixTuningModel.from_model(base, PrefixConfig(prefix_length=2), tokenizer=tokenizer).save_pretrained(tmp_path / "qa")
    template = "Question: {source}\nAnswer:"
    manifest = build_manifest("qa", [("qa", "prefix", tmp_path / "qa", None)], tmp_path)
    manifest = manifest.model_copy(update={"members": [manifest.members[0].model_copy(update={"template": template})]})
    bundle = MultiTaskModel.from_bundle(write_manifest(tmp_path / "manifest.json", manifest), base_model=base,
                                        tokenizer=tokenizer)
    calls = _captured(monkeypatch, bundle.model, "generate")
    bundle.predict([{"task": "qa", "text": text} for text in TEXTS], max_new_tokens=2)
    fmt = CausalGenerationFormat(tokenizer, max_length=64, template=template)
    expected = [row["input_ids"] for row in fmt.encode_prompts([Example(text=text) for text in TEXTS])]
    assert _unpadded(calls) == expected
    assert expected[0][0] == tokenizer.cls_token_id and len(set(map(len, expected))) == 3


def test_predict_builds_the_classification_formats_input_ids(tmp_path, monkeypatch):
    tokenizer = _tokenizer()
    config = TINY_CONFIGS["bert"]()
    config.vocab_size, config.num_labels = tokenizer.vocab_size, 2
    torch.manual_seed(0)
    base = AutoModelForSequenceClassification.from_config(config).eval()
    model = PrefixTuningModel.from_model(base, PrefixConfig(prefix_length=3, reparameterization=False), tokenizer=tokenizer)
    model.save_pretrained(tmp_path / "sentiment")
    bundle = MultiTaskModel.from_artifacts({"sentiment": tmp_path / "sentiment"}, base_model=base, tokenizer=tokenizer,
                                           labels={"sentiment": ["neg", "pos"]})
    calls = []
    original = bundle.classify

    def record(tasks, **batch):
        calls.append((batch["input_ids"], batch["attention_mask"]))
        return original(tasks, **batch)

    monkeypatch.setattr(bundle, "classify", record)
    bundle.predict([{"task": "sentiment", "text": text} for text in TEXTS])
    fmt = ClassificationFormat(tokenizer, ["neg", "pos"], max_length=64)
    features, _ = fmt.encode([Example(text=text, label="pos") for text in TEXTS])
    assert _unpadded(calls) == [row["input_ids"] for row in features]
