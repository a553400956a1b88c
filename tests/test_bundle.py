"""Multi-task bundles: a mixed-task batch equals each task alone; bad bundles are refused clearly."""

from __future__ import annotations

import pytest
import torch
from bundle_artifacts import saved
from conftest import TINY_CONFIGS, right_padded_batch, tiny_model
from safetensors.torch import load_file, save_file
from transformers import (
    AutoModelForSequenceClassification,
)

from prefixes import (
    ModelConfig,
    MultiTaskModel,
    PrefixConfig,
    PrefixTuningModel,
    PromptConfig,
    PromptTuningModel,
    load_adapter,
)
from prefixes.bundle import BundleError, RegistryRef, RoutedLinear, build_manifest, read_manifest, write_manifest
from prefixes.registry import Registry

LLAMA_EOS = 2


def _bert(num_labels: int):
    """conftest's tiny BERT backbone with a classifier of ``num_labels`` classes."""
    config = TINY_CONFIGS["bert"]()
    config.num_labels = num_labels
    model = AutoModelForSequenceClassification.from_config(config).eval()
    model.bert.load_state_dict(tiny_model("bert").bert.state_dict())
    return model


CLASSIFIERS = {
    "p_tuning_v2": lambda base, length: PrefixTuningModel.from_model(
        base, PrefixConfig(prefix_length=length, reparameterization=False)
    ),
    "prompt": lambda base, length: PromptTuningModel.from_model(base, PromptConfig(num_virtual_tokens=length)),
}


@pytest.fixture(params=sorted(CLASSIFIERS))
def classification_artifacts(request, tmp_path):
    """Two tasks with their own heads: 3 and 2 labels, 3 and 5 virtual tokens."""
    specs = {"sentiment": (3, 3), "topic": (2, 5)}
    return {
        task: saved(CLASSIFIERS[request.param](_bert(labels), length), seed, tmp_path / task)
        for seed, (task, (labels, length)) in enumerate(specs.items())
    }


@pytest.fixture
def generation_artifacts(tmp_path):
    """Two prefix-tuning tasks on the tiny Llama, prefixes of 2 and 5 tokens."""
    artifacts = {}
    for seed, (task, length) in enumerate({"summarize": 2, "translate": 5}.items()):
        wrapper = PrefixTuningModel.from_model(tiny_model("llama"), PrefixConfig(prefix_length=length, prefix_dropout=0.0))
        artifacts[task] = saved(wrapper, seed, tmp_path / task)
    return artifacts


def test_mixed_classification_batch_gives_each_task_its_own_prefix_and_head(classification_artifacts):
    bundle = MultiTaskModel.from_artifacts(classification_artifacts, base_model=tiny_model("bert"))
    ids, mask = right_padded_batch(batch=4)
    tasks = ["topic", "sentiment", "sentiment", "topic"]
    logits = bundle.classify(tasks, input_ids=ids, attention_mask=mask)
    for row, task in enumerate(tasks):
        alone = load_adapter(classification_artifacts[task], base_model=_bert(bundle.num_labels[task]))
        real = int(mask[row].sum())
        with torch.no_grad():
            expected = alone.eval()(input_ids=ids[row : row + 1, :real]).logits[0]
        assert logits[row].shape == expected.shape == (bundle.num_labels[task],)
        assert torch.allclose(logits[row], expected, atol=1e-5), (task, logits[row], expected)
    # The routing index lives for one forward only.
    heads = [module for module in bundle.modules() if isinstance(module, RoutedLinear)]
    assert heads and all(head.task_index is None for head in heads)


def _left_padded(rows: list[torch.Tensor], pad: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(row) for row in rows)
    ids = torch.stack([torch.cat([torch.full((width - len(row),), pad), row]) for row in rows])
    mask = torch.stack([(torch.arange(width) >= width - len(row)).long() for row in rows])
    return ids, mask


def _until_eos(tokens: torch.Tensor) -> list[int]:
    tokens = tokens.tolist()
    return tokens[: tokens.index(LLAMA_EOS) + 1] if LLAMA_EOS in tokens else tokens


def test_mixed_generation_batch_generates_what_each_task_generates_alone(generation_artifacts):
    bundle = MultiTaskModel.from_artifacts(generation_artifacts, base_model=tiny_model("llama"))
    ids, mask = right_padded_batch(batch=3)
    prompts = [ids[row, : int(mask[row].sum())] for row in range(3)]  # 7, 5 and 3 tokens
    tasks = ["translate", "summarize", "translate"]
    batch_ids, batch_mask = _left_padded(prompts)
    output = bundle.generate(tasks, input_ids=batch_ids, attention_mask=batch_mask, max_new_tokens=6, do_sample=False,
                             pad_token_id=0)
    for row, (task, prompt) in enumerate(zip(tasks, prompts)):
        alone = PrefixTuningModel.from_pretrained(generation_artifacts[task], base_model=tiny_model("llama")).eval()
        expected = alone.generate(input_ids=prompt[None], attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                                  max_new_tokens=6, do_sample=False, pad_token_id=0)
        assert _until_eos(output[row, batch_ids.shape[1] :]) == _until_eos(expected[0, len(prompt) :])
    # The two prefixes really differ, so a mix-up of tasks would have shown above.
    same = ids[:1].expand(2, -1)
    with torch.no_grad():
        logits = bundle(["summarize", "translate"], input_ids=same).logits
    assert (logits[0] - logits[1]).abs().max() > 1e-2


def test_unknown_task_lists_the_known_ones(generation_artifacts):
    bundle = MultiTaskModel.from_artifacts(generation_artifacts, base_model=tiny_model("llama"))
    with pytest.raises(BundleError, match=r"unknown tasks \['qa'\].*\['summarize', 'translate'\]"):
        bundle.task_ids(["summarize", "qa"])


def test_manifest_round_trip_and_tampered_member_is_refused(generation_artifacts, tmp_path):
    members = [(task, "prefix", path, None) for task, path in generation_artifacts.items()]
    manifest_path = write_manifest(tmp_path / "bundle" / "manifest.json", build_manifest("gen", members, tmp_path / "bundle"))
    manifest = read_manifest(manifest_path)
    assert [member.artifact for member in manifest.members] == ["../summarize", "../translate"]
    assert set(manifest.members[0].sha256) == {"prefix_config.json", "prefix.safetensors"}
    MultiTaskModel.from_bundle(manifest_path, base_model=tiny_model("llama"))

    weights = generation_artifacts["translate"] / "prefix.safetensors"
    tensors = load_file(weights)
    save_file({name: tensor + 1e-3 for name, tensor in tensors.items()}, str(weights))
    with pytest.raises(BundleError, match=r"task 'translate'.*prefix\.safetensors has sha256 .* the manifest records"):
        MultiTaskModel.from_bundle(manifest_path, base_model=tiny_model("llama"))


def test_members_on_different_base_models_are_refused(tmp_path):
    first = saved(PrefixTuningModel.from_model(tiny_model("llama"), PrefixConfig(prefix_length=2)), 0, tmp_path / "first")
    second = saved(
        PrefixTuningModel.from_model(tiny_model("llama", seed=1), PrefixConfig(prefix_length=2)), 1, tmp_path / "second"
    )
    members = [("first", "prefix", first, None), ("second", "prefix", second, None)]
    with pytest.raises(BundleError, match="'first' and 'second' were trained on different base models"):
        build_manifest("mixed", members, tmp_path)


def test_prompt_and_prefix_members_are_refused(tmp_path):
    prefix = saved(PrefixTuningModel.from_model(tiny_model("llama"), PrefixConfig(prefix_length=2)), 0, tmp_path / "prefix")
    prompt = saved(PromptTuningModel.from_model(tiny_model("llama"), PromptConfig(num_virtual_tokens=2)), 1, tmp_path / "prompt")
    with pytest.raises(BundleError, match=r"all be prefixes .* or all prompts.*'prefix': \['a'\], 'prompt': \['b'\]"):
        MultiTaskModel.from_artifacts({"a": prefix, "b": prompt}, base_model=tiny_model("llama"))


def test_classification_and_generation_members_are_refused(tmp_path):
    # Same GPT-2 backbone (so the same fingerprint) under a language-model head and a classification head.
    lm = tiny_model("gpt2")
    config = TINY_CONFIGS["gpt2"]()
    config.num_labels, config.pad_token_id = 2, 0
    classifier = AutoModelForSequenceClassification.from_config(config)
    classifier.transformer.load_state_dict(lm.transformer.state_dict())
    generate = saved(PrefixTuningModel.from_model(lm, PrefixConfig(prefix_length=2)), 0, tmp_path / "generate")
    classify = saved(PrefixTuningModel.from_model(classifier, PrefixConfig(prefix_length=2)), 1, tmp_path / "classify")
    with pytest.raises(BundleError, match="tasks of different kinds cannot share one base model"):
        build_manifest("kinds", [("gen", "prefix", generate, None), ("cls", "prefix", classify, None)], tmp_path)


def test_registry_members_are_pinned_and_verified(generation_artifacts, tmp_path):
    registry = Registry(tmp_path / "registry")
    for task, path in generation_artifacts.items():
        registry.publish(path, task=task, method="prefix")
    versions = {"summarize": ("prefix", "latest"), "translate": ("prefix", "v1")}
    bundle = MultiTaskModel.from_registry(registry.root, versions, base_model=tiny_model("llama"))
    direct = MultiTaskModel.from_artifacts(generation_artifacts, base_model=tiny_model("llama"))
    ids, mask = right_padded_batch()
    tasks = ["translate", "summarize", "summarize"]
    with torch.no_grad():
        from_registry = bundle(tasks, input_ids=ids, attention_mask=mask).logits
        assert torch.equal(from_registry, direct(tasks, input_ids=ids, attention_mask=mask).logits)

    reference = RegistryRef(registry=str(registry.root), task="summarize", method="prefix", version="latest")
    manifest = build_manifest("reg", [("summarize", "prefix", reference, None)], tmp_path / "bundle")
    assert manifest.members[0].artifact == RegistryRef(registry="../registry", task="summarize", method="prefix", version="v1")
    stored = registry.get("summarize", "prefix").path / "prefix_config.json"
    stored.chmod(0o644)
    stored.write_text(stored.read_text().replace('"prefix_length": 2', '"prefix_length": 3'))
    with pytest.raises(BundleError, match="no longer matches the hashes recorded when it was published"):
        build_manifest("reg", [("summarize", "prefix", reference, None)], tmp_path / "bundle")


# ----- the CLI, on a bundle whose base model loads from disk with a real tokenizer --------------
def test_minilm_bundle_of_five_and_three_label_tasks_matches_each_task_alone(tmp_path):
    """The embedded MiniLM, loaded by the bundle itself from the manifest's base model."""
    specs = {"news": ["business", "entertainment", "politics", "sport", "tech"], "reviews": ["bad", "mixed", "good"]}
    alone, members = {}, []
    for seed, (task, names) in enumerate(specs.items()):
        model_config = ModelConfig(model_name_or_path="minilm", task_type="text_classification", num_labels=len(names))
        alone[task] = PrefixTuningModel.from_config(
            model_config, PrefixConfig(prefix_length=4 + 4 * seed, reparameterization=False)
        )
        members.append((task, "p_tuning_v2", saved(alone[task], seed, tmp_path / task), names))
    bundle = MultiTaskModel.from_bundle(write_manifest(tmp_path / "manifest.json", build_manifest("minilm", members, tmp_path)))
    requests = [
        {"task": "reviews", "text": "Worked well, mild headaches."},
        {"task": "news", "text": "Shares fell after the merger."},
        {"task": "reviews", "text": "Useless."},
    ]
    answers = bundle.predict(requests)
    tokenizer = bundle.model.tokenizer
    logits = bundle.classify(
        [r["task"] for r in requests], **tokenizer([r["text"] for r in requests], padding=True, return_tensors="pt")
    )
    for row, (request, answer) in enumerate(zip(requests, answers)):
        with torch.no_grad():
            expected = alone[request["task"]].eval()(**tokenizer(request["text"], return_tensors="pt")).logits[0]
        assert torch.allclose(logits[row], expected, atol=1e-5)
        label = int(expected.argmax())
        assert answer == {**request, "prediction": specs[request["task"]][label], "label": label}
