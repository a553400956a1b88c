"""Save/load round trips, the folded export, base-model checks, interpolation and initialisation."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import right_padded_batch, tiny_model
from pydantic import ValidationError
from safetensors.torch import load_file
from transformers import AutoTokenizer

from prefixes import (
    ModelConfig,
    PrefixConfig,
    PrefixTuningModel,
    PromptConfig,
    PromptTuningModel,
    interpolate_models,
    load_adapter,
)
from prefixes.artifact import weights
from prefixes.artifact.card import append_card_section
from prefixes.base_models import resolve_model_path


def _perturbed(model):
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.add_(torch.randn_like(param) * 0.1)
    return model


@pytest.mark.parametrize("training_state", [False, True])
@pytest.mark.parametrize(
    "arch,make",
    [
        ("llama", lambda b: PrefixTuningModel.from_model(b, PrefixConfig(prefix_length=4, prefix_dropout=0.0))),
        ("bert", lambda b: PrefixTuningModel.from_model(b, PrefixConfig(prefix_length=4, reparameterization=False))),
        ("gpt2", lambda b: PromptTuningModel.from_model(b, PromptConfig(num_virtual_tokens=4))),
    ],
    ids=["prefix", "p_tuning_v2_head", "prompt"],
)
def test_round_trip_is_bit_exact(arch, make, training_state, tmp_path):
    model = _perturbed(make(tiny_model(arch))).eval()
    model.save_pretrained(tmp_path, training_state=training_state)
    loaded = load_adapter(tmp_path, base_model=tiny_model(arch)).eval()
    ids, mask = right_padded_batch()
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids, attention_mask=mask).logits, loaded(input_ids=ids, attention_mask=mask).logits)
    # Saving the loaded model again writes identical tensors.
    loaded.save_pretrained(tmp_path / "again", training_state=training_state)
    first, second = load_file(tmp_path / "prefix.safetensors"), load_file(tmp_path / "again" / "prefix.safetensors")
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_training_form_keeps_the_mlp_and_folded_form_gives_the_same_logits(tmp_path):
    model = _perturbed(PrefixTuningModel.from_model(tiny_model("llama"), PrefixConfig(prefix_length=4))).eval()
    model.save_pretrained(tmp_path / "train", training_state=True)
    model.save_pretrained(tmp_path / "folded")
    train_tensors = load_file(tmp_path / "train" / "prefix.safetensors")
    assert {"adapter.embedding", "adapter.mlp.0.weight", "adapter.mlp.2.weight"} <= train_tensors.keys()
    assert set(load_file(tmp_path / "folded" / "prefix.safetensors")) == {"prefix"}
    folded = PrefixTuningModel.from_pretrained(tmp_path / "folded", base_model=tiny_model("llama")).eval()
    resumed = PrefixTuningModel.from_pretrained(tmp_path / "train", base_model=tiny_model("llama")).train()
    assert any(p.requires_grad for p in resumed.adapters.parameters())
    assert "mlp" in dict(resumed.adapters["default"].named_children())
    ids, mask = right_padded_batch()
    with torch.no_grad():
        difference = (
            (model(input_ids=ids, attention_mask=mask).logits - folded(input_ids=ids, attention_mask=mask).logits).abs().max()
        )
    assert difference < 1e-5


def test_loading_onto_another_architecture_or_weights_fails_clearly(tmp_path):
    PrefixTuningModel.from_model(tiny_model("llama"), PrefixConfig(prefix_length=2)).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="trained on a 'llama' model.*'qwen2'"):
        PrefixTuningModel.from_pretrained(tmp_path, base_model=tiny_model("qwen2"))
    with pytest.raises(ValueError, match="different base weights"):
        PrefixTuningModel.from_pretrained(tmp_path, base_model=tiny_model("llama", seed=1))
    with pytest.raises(ValueError, match="'prefix' artifact"):
        PromptTuningModel.from_pretrained(tmp_path, base_model=tiny_model("llama"))


def test_corrupted_or_newer_artifacts_are_refused(tmp_path):
    PrefixTuningModel.from_model(tiny_model("llama"), PrefixConfig(prefix_length=2)).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "prefix_config.json").read_text())
    (tmp_path / "prefix_config.json").write_text(json.dumps({**config, "format_version": 99}))
    with pytest.raises(ValueError, match="format_version 99.*upgrade"):
        load_adapter(tmp_path, base_model=tiny_model("llama"))
    (tmp_path / "prefix_config.json").write_text(json.dumps(config))
    (tmp_path / "prefix.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(ValueError, match="corrupted"):
        load_adapter(tmp_path, base_model=tiny_model("llama"))


def test_interpolation_mixes_prefixes_and_checks_shape_and_base():
    base = tiny_model("llama")
    model = PrefixTuningModel.from_model(base, PrefixConfig(prefix_length=3))
    model.add_adapter("b", PrefixConfig(prefix_length=3))
    mixed = model.add_interpolated("mix", "default", "b", alpha=0.25)
    a, b = model.adapters["default"].folded(), model.adapters["b"].folded()
    assert torch.allclose(mixed.folded(), 0.25 * a + 0.75 * b)
    model.add_adapter("short", PrefixConfig(prefix_length=2))
    with pytest.raises(ValueError, match="same prefix length"):
        model.add_interpolated("bad", "default", "short", alpha=0.5)
    other = PrefixTuningModel.from_model(tiny_model("llama", seed=7), PrefixConfig(prefix_length=3))
    with pytest.raises(ValueError, match="different base models"):
        interpolate_models(model, other, 0.5)


@pytest.mark.parametrize(
    "factory,field",
    [
        (lambda: PrefixConfig(prefix_length=0), "prefix_length"),
        (lambda: PrefixConfig(init="glove"), "init"),
        (lambda: PrefixConfig(init="text"), "init_text"),
        (lambda: PrefixConfig(prefix_lenght=5), "prefix_lenght"),
        (lambda: PromptConfig(prompt_tuning_init="text"), "prompt_tuning_init_text"),
        (lambda: PromptConfig(prompt_tuning_init="class_labels"), "class_labels"),
        (lambda: ModelConfig(model_name_or_path="minilm", task_type="text_classification"), "num_labels"),
        (lambda: ModelConfig(model_name_or_path="minilm", task_type="sentiment"), "task_type"),
    ],
)
def test_invalid_configs_name_the_field(factory, field):
    with pytest.raises(ValidationError, match=field):
        factory()


@pytest.fixture(scope="module")
def minilm_tokenizer():
    return AutoTokenizer.from_pretrained(resolve_model_path("minilm"))


def _bert_for(tokenizer):
    """A tiny random BERT whose vocabulary matches a real tokenizer."""
    from transformers import AutoModelForSequenceClassification, BertConfig

    torch.manual_seed(0)
    config = BertConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, intermediate_size=64,
                        vocab_size=tokenizer.vocab_size, num_labels=2)
    return AutoModelForSequenceClassification.from_config(config).eval()


def test_prefix_text_init_reproduces_the_text_activations(minilm_tokenizer):
    text = "great movie"
    for reparameterization in (False, True):
        model = PrefixTuningModel.from_model(
            _bert_for(minilm_tokenizer),
            PrefixConfig(prefix_length=5, init="text", init_text=text, reparameterization=reparameterization),
            tokenizer=minilm_tokenizer,
        )
        expected = model.adapter_method.text_activations(text, 5)
        assert torch.allclose(model.adapters["default"].folded(), expected, atol=1e-4)
    zero = PrefixTuningModel.from_model(tiny_model("bert"), PrefixConfig(prefix_length=5, init="zero"))
    assert zero.adapters["default"].folded().abs().max() == 0


def test_prompt_inits(minilm_tokenizer):
    base = _bert_for(minilm_tokenizer)
    table = base.get_input_embeddings().weight.detach()
    text = PromptTuningModel.from_model(
        base,
        PromptConfig(num_virtual_tokens=5, prompt_tuning_init="text", prompt_tuning_init_text="good bad"),
        tokenizer=minilm_tokenizer,
    )
    ids = minilm_tokenizer("good bad", add_special_tokens=False)["input_ids"]
    assert torch.equal(text.adapters["default"]().detach(), table[[ids[i % len(ids)] for i in range(5)]])
    labels = PromptTuningModel.from_model(base, PromptConfig(num_virtual_tokens=4, prompt_tuning_init="class_labels",
                                                             class_labels=["negative", "positive"]), tokenizer=minilm_tokenizer)
    for row, word in enumerate(["negative", "positive"]):
        word_ids = minilm_tokenizer(word, add_special_tokens=False)["input_ids"]
        assert torch.allclose(labels.adapters["default"]()[row], table[word_ids].mean(0))
    sample = PromptTuningModel.from_model(
        base, PromptConfig(num_virtual_tokens=6, prompt_tuning_init="vocab_sample", vocab_sample_size=5000)
    )
    rows = sample.adapters["default"]().detach()
    # every row is exactly one of the first 5000 token embeddings
    assert all(any(torch.equal(row, candidate) for candidate in table[:5000]) for row in rows)


def test_saving_over_an_artifact_is_all_or_nothing(tmp_path, monkeypatch):
    torch.manual_seed(0)
    PrefixTuningModel.from_model(tiny_model("llama"), PrefixConfig(prefix_length=2)).save_pretrained(tmp_path / "a")
    old = {path.name: path.read_bytes() for path in (tmp_path / "a").iterdir()}
    longer = PrefixTuningModel.from_model(tiny_model("llama"), PrefixConfig(prefix_length=3))
    write_atomic = weights.write_atomic

    def killed_after_the_tensors(path, data):
        if path.name == "prefix_config.json":
            raise KeyboardInterrupt  # stands for a kill between the tensors and the config
        write_atomic(path, data)

    monkeypatch.setattr(weights, "write_atomic", killed_after_the_tensors)
    with pytest.raises(KeyboardInterrupt):
        longer.save_pretrained(tmp_path / "a")
    monkeypatch.undo()
    assert {path.name: path.read_bytes() for path in (tmp_path / "a").iterdir()} == old
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a"]

    longer.save_pretrained(tmp_path / "a")
    assert load_adapter(tmp_path / "a", base_model=tiny_model("llama")).adapters["default"].config.prefix_length == 3
    (tmp_path / "a" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds other files than an artifact \\(notes.txt\\)"):
        longer.save_pretrained(tmp_path / "a")


def test_an_artifact_carries_its_label_names_and_a_model_card(tmp_path):
    base = tiny_model("bert")
    base.config.id2label = {0: "negative", 1: "neutral", 2: "positive"}
    model = PrefixTuningModel.from_model(base, PrefixConfig(prefix_length=4, reparameterization=False))
    model.save_pretrained(tmp_path)

    card = (tmp_path / "README.md").read_text()
    assert "negative, neutral, positive" in card and model.base_fingerprint() in card
    assert f"{model.num_trainable_parameters():,} of {model.num_base_parameters():,}" in card
    loaded = PrefixTuningModel.from_pretrained(tmp_path, base_model=tiny_model("bert"))  # LABEL_0.. on load
    assert loaded.base_model.config.id2label == {0: "negative", 1: "neutral", 2: "positive"}
    assert loaded.label_names() == ["negative", "neutral", "positive"]


def test_the_trainer_of_a_run_adds_its_data_and_scores_to_the_card_and_the_artifact_still_loads(tmp_path):
    model = PrefixTuningModel.from_model(tiny_model("bert"), PrefixConfig(prefix_length=4, reparameterization=False))
    model.save_pretrained(tmp_path)
    before = (tmp_path / "README.md").read_text()
    append_card_section(tmp_path, "Training run", {"task": "topics", "data fingerprint": "ab12", "test accuracy": 0.91234})

    card = (tmp_path / "README.md").read_text()
    assert card == before + "\n## Training run\n\n- **task**: topics\n- **data fingerprint**: ab12\n- **test accuracy**: 0.9123\n"
    PrefixTuningModel.from_pretrained(tmp_path, base_model=tiny_model("bert"))
    with pytest.raises(FileNotFoundError, match="save the model"):
        append_card_section(tmp_path / "missing", "Training run", {})
    (tmp_path / "whole").mkdir()  # a whole transformers model saves no card: one is started
    append_card_section(tmp_path / "whole", "Training run", {"task": "topics"})
    assert (tmp_path / "whole" / "README.md").read_text() == "## Training run\n\n- **task**: topics\n"


def test_default_transformers_labels_are_not_recorded(tmp_path):
    PrefixTuningModel.from_model(tiny_model("bert"), PrefixConfig(prefix_length=2)).save_pretrained(tmp_path)
    assert "label_names" not in json.loads((tmp_path / "prefix_config.json").read_text())


def test_an_edited_hidden_size_is_refused_at_load(tmp_path):
    PrefixTuningModel.from_model(tiny_model("llama"), PrefixConfig(prefix_length=2)).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "prefix_config.json").read_text())
    (tmp_path / "prefix_config.json").write_text(json.dumps({**config, "hidden_size": 64}))
    with pytest.raises(ValueError, match="records hidden_size 64, the base model has 32"):
        PrefixTuningModel.from_pretrained(tmp_path, base_model=tiny_model("llama"))
