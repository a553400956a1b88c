"""Serving a bundle: `prefixes predict` and MultiTaskModel.predict answer like each task alone, and
refuse bad requests before any work."""

from __future__ import annotations

import json

import pytest
import torch
from bundle_artifacts import saved
from click.testing import CliRunner
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    BertConfig,
    BertModel,
    LlamaConfig,
)

from prefixes import (
    ModelConfig,
    MultiTaskModel,
    PrefixConfig,
    PrefixTuningModel,
    load_adapter,
)
from prefixes.base_models import resolve_model_path
from prefixes.bundle import BundleError, build_manifest, write_manifest
from prefixes.cli.predict import predict


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(resolve_model_path("minilm"))


@pytest.fixture
def cli_bundle(tmp_path, tokenizer):
    """A tiny BERT with the MiniLM vocabulary saved to disk, and two classification tasks over it."""
    base = tmp_path / "base"
    torch.manual_seed(0)
    BertModel(BertConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, intermediate_size=64,
                         vocab_size=tokenizer.vocab_size)).save_pretrained(base)
    tokenizer.save_pretrained(base)
    labels = {"sentiment": ["negative", "neutral", "positive"], "topic": ["sports", "science"]}
    members = []
    for seed, (task, names) in enumerate(labels.items()):
        model_config = ModelConfig(model_name_or_path=str(base), task_type="text_classification", num_labels=len(names))
        wrapper = PrefixTuningModel.from_config(model_config, PrefixConfig(prefix_length=3 + seed, reparameterization=False))
        members.append((task, "p_tuning_v2", saved(wrapper, seed, tmp_path / task), names))
    return write_manifest(tmp_path / "bundle" / "manifest.json", build_manifest("demo", members, tmp_path / "bundle")), members


REQUESTS = [
    {"task": "topic", "text": "The striker scored twice in the final."},
    {"task": "sentiment", "text": "I loved every minute of it."},
    {"task": "sentiment", "text": "Terrible service, never again."},
    {"task": "topic", "text": "The telescope found a new exoplanet."},
    {"task": "sentiment", "text": "It was fine."},
]


def test_predict_cli_answers_mixed_requests_in_order_like_each_task_alone(cli_bundle, tokenizer):
    manifest_path, members = cli_bundle
    lines = "\n".join(json.dumps(request) for request in REQUESTS) + "\n\n"
    result = CliRunner().invoke(predict, ["--bundle", str(manifest_path), "--batch-size", "3"], input=lines)
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [{"task": a["task"], "text": a["text"]} for a in answers] == REQUESTS
    for task, _, directory, names in members:
        alone = load_adapter(directory).eval()
        for request, answer in zip(REQUESTS, answers):
            if request["task"] != task:
                continue
            with torch.no_grad():
                label = int(alone(**tokenizer(request["text"], return_tensors="pt")).logits.argmax())
            assert answer["label"] == label and answer["prediction"] == names[label]


@pytest.mark.parametrize(
    "lines,message",
    [
        ('{"task": "topic", "text": "ok"}\n{"task": "topic", "text": \n', "line 2: Invalid JSON"),
        ('{"task": "topic"}\n', "line 1: text: Field required"),
        ('\n{"task": "weather", "text": "sunny"}\n', "line 2: unknown task 'weather'; this bundle serves ['sentiment', 'topic']"),
    ],
    ids=["bad-json", "missing-field", "unknown-task"],
)
def test_predict_cli_names_the_bad_line(cli_bundle, lines, message):
    result = CliRunner().invoke(predict, ["--bundle", str(cli_bundle[0])], input=lines)
    assert result.exit_code != 0
    assert message in result.output
    assert result.stdout == ""


def test_predict_usage_error_shows_the_request_shape_with_single_braces(cli_bundle):
    result = CliRunner().invoke(predict, ["--bundle", str(cli_bundle[0])], input='{"task": "topic"}\n')
    assert 'each line must be {"task": ..., "text": ...}' in result.output and "{{" not in result.output


def test_predict_bundle_takes_the_bundle_folder(cli_bundle):
    lines = json.dumps(REQUESTS[0]) + "\n"
    by_folder = CliRunner().invoke(predict, ["--bundle", str(cli_bundle[0].parent)], input=lines)
    by_file = CliRunner().invoke(predict, ["--bundle", str(cli_bundle[0])], input=lines)
    assert by_folder.exit_code == 0, by_folder.output
    assert by_folder.stdout == by_file.stdout and json.loads(by_folder.stdout)["task"] == "topic"


@pytest.mark.parametrize("text", ["", "   "], ids=["empty", "blank"])
def test_predict_refuses_empty_text(cli_bundle, text):
    result = CliRunner().invoke(predict, ["--bundle", str(cli_bundle[0])], input=json.dumps({"task": "topic", "text": text}))
    assert result.exit_code == 1 and "line 1: 'text' is empty" in result.output and result.stdout == ""


def test_predict_refuses_a_request_over_the_size_limit_without_echoing_it(cli_bundle):
    huge = json.dumps({"task": "topic", "text": "word " * 2_100_000})
    result = CliRunner().invoke(predict, ["--bundle", str(cli_bundle[0])], input=huge)
    assert result.exit_code == 1 and "over the limit of 1,000,000" in result.output
    assert len(result.output) < 500


def test_predict_cli_names_the_line_of_invalid_utf8(cli_bundle):
    lines = b'{"task": "topic", "text": "ok"}\n{"task": "topic", "text": "caf\xe9"}\n'
    result = CliRunner().invoke(predict, ["--bundle", str(cli_bundle[0])], input=lines)
    assert result.exit_code == 1
    assert "line 2 is not valid UTF-8" in result.output and result.stdout == ""


def test_an_overlong_request_is_refused_before_any_generation(tokenizer, tmp_path):
    torch.manual_seed(0)
    config = LlamaConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=64, vocab_size=tokenizer.vocab_size, pad_token_id=0, max_position_embeddings=32)
    base = AutoModelForCausalLM.from_config(config).eval()
    wrapper = PrefixTuningModel.from_model(base, PrefixConfig(prefix_length=2, prefix_dropout=0.0), tokenizer=tokenizer)
    bundle = MultiTaskModel.from_artifacts({"echo": saved(wrapper, 0, tmp_path / "echo")}, base_model=base, tokenizer=tokenizer)
    calls = []
    bundle.model.generate = lambda *args, **kwargs: calls.append(1)  # type: ignore[method-assign]
    requests = [{"task": "echo", "text": "hi"}] * 40 + [{"task": "echo", "text": "word " * 40}]
    with pytest.raises(BundleError, match=r"^request 41 takes \d+ tokens"):
        bundle.predict(requests, max_new_tokens=5, batch_size=8)
    assert calls == []  # nothing was generated, so nothing was lost


def test_predict_generates_only_new_tokens_per_task(tokenizer, tmp_path):
    # The tiny Llama with the MiniLM vocabulary, so text requests tokenise.
    torch.manual_seed(0)
    config = LlamaConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=64, vocab_size=tokenizer.vocab_size, pad_token_id=0)
    base = AutoModelForCausalLM.from_config(config).eval()
    artifacts = {}
    for seed, (task, length) in enumerate({"summarize": 2, "translate": 5}.items()):
        wrapper = PrefixTuningModel.from_model(base, PrefixConfig(prefix_length=length, prefix_dropout=0.0), tokenizer=tokenizer)
        artifacts[task] = saved(wrapper, seed, tmp_path / task)
    requests = [{"task": "translate", "text": "good morning to you"}, {"task": "summarize", "text": "a long story"},
                {"task": "translate", "text": "thanks"}]
    bundle = MultiTaskModel.from_artifacts(artifacts, base_model=base, tokenizer=tokenizer)
    answers = bundle.predict(requests, max_new_tokens=5)
    for request, answer in zip(requests, answers):
        alone = PrefixTuningModel.from_pretrained(artifacts[request["task"]], base_model=base).eval()
        # The causal format's prompt: the tokenizer's leading special token, then the default
        # template "{source}\n" (the MiniLM tokenizer drops the newline).
        prompt = [tokenizer.cls_token_id] + tokenizer(request["text"] + "\n", add_special_tokens=False)["input_ids"]
        ids = torch.tensor([prompt])
        output = alone.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=5, do_sample=False,
                                pad_token_id=0)
        expected = tokenizer.decode(output[0, ids.shape[1] :], skip_special_tokens=True).strip()
        assert answer == {**request, "prediction": expected}
