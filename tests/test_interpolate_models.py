"""Interpolation returns a model: exact ends, the mean in the middle, refusals, and the CLI."""

from __future__ import annotations

import copy

import pytest
import torch
from click.testing import CliRunner
from conftest import tiny_model

from pipeline.cli import main
from prefixes import ModelConfig, PrefixConfig, PrefixTuningModel, PromptConfig, PromptTuningModel, interpolate_models
from prefixes.model import load_adapter

pytestmark = pytest.mark.integration

CLASSIFICATION = ModelConfig(model_name_or_path="minilm", task_type="text_classification", num_labels=3,
                             label_names=["world", "sport", "business"])
BUILDERS = {
    "prefix": lambda length: PrefixTuningModel(CLASSIFICATION, PrefixConfig(prefix_length=length, reparameterization=False)),
    "prompt": lambda length: PromptTuningModel(CLASSIFICATION, PromptConfig(num_virtual_tokens=length)),
}


def _pair(kind: str):
    """Two models over one MiniLM, with different adapters and different trained heads."""
    torch.manual_seed(0)
    first = BUILDERS[kind](3).eval()
    second = copy.deepcopy(first)
    with torch.no_grad():
        for param in second.parameters():
            if param.requires_grad:
                param.add_(torch.randn_like(param))
    return first, second


def _tensors(model) -> dict[str, torch.Tensor]:
    """The folded adapter and the head: everything interpolation mixes."""
    adapter = model.adapters[model.active_adapter]
    params = dict(model.base_model.named_parameters())
    return {name: params[name] for name in model.head_names} | model.adapter_method.folded_tensors(adapter)


def _logits(model) -> torch.Tensor:
    batch = model.tokenizer(["a football match report", "shares fell sharply today"], return_tensors="pt", padding=True)
    with torch.no_grad():
        return model.eval()(**batch).logits


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def saved_pair(request, tmp_path_factory):
    first, second = _pair(request.param)
    root = tmp_path_factory.mktemp(request.param)
    return first, second, first.save_pretrained(root / "a"), second.save_pretrained(root / "b")


def test_alpha_weighs_the_first_adapter_as_the_papers_formula_does(saved_pair):
    first, second, first_dir, second_dir = saved_pair
    assert torch.equal(_logits(interpolate_models(first_dir, second_dir, 1.0)), _logits(first))
    assert torch.equal(_logits(interpolate_models(first_dir, second_dir, 0.0)), _logits(second))
    assert _tensors(interpolate_models(first_dir, second_dir, 1.0)).keys() == _tensors(first).keys()
    assert all(torch.equal(tensor, _tensors(first)[name])
               for name, tensor in _tensors(interpolate_models(first_dir, second_dir, 1.0)).items())
    assert not torch.equal(_logits(first), _logits(second))


def test_alpha_half_is_the_mean_and_models_mix_like_their_artifacts(saved_pair):
    first, second, first_dir, second_dir = saved_pair
    mixed = _tensors(interpolate_models(first, second, 0.5))
    ours, theirs = _tensors(first), _tensors(second)
    assert sorted(mixed) == sorted(ours) and any(name.startswith("classifier") for name in mixed)
    for name, tensor in mixed.items():
        assert torch.equal(tensor, (ours[name] + theirs[name]) / 2), name
    from_dirs = _tensors(interpolate_models(first_dir, second, 0.25))
    from_models = _tensors(interpolate_models(first, second_dir, 0.25))
    assert all(torch.equal(from_dirs[name], from_models[name]) for name in from_dirs)
    assert torch.equal(_logits(first), _logits(load_adapter(first_dir)))  # the inputs are unchanged


def test_unequal_lengths_other_kinds_and_other_tasks_are_refused(saved_pair):
    first, _, first_dir, _ = saved_pair
    longer = copy.deepcopy(first)
    longer.add_adapter("long", longer.adapters["default"].config.model_copy(
        update={"prefix_length": 5} if isinstance(first, PrefixTuningModel) else {"num_virtual_tokens": 5}))
    longer.active_adapter = "long"
    with pytest.raises(ValueError, match=r"shapes \(3, .*\) and \(5, .*same length"):
        interpolate_models(first, longer, 0.5)
    with pytest.raises(ValueError, match=r"alpha=1.5 is outside \[0, 1\]"):
        interpolate_models(first_dir, first_dir, 1.5)
    other_kind = _pair("prompt" if isinstance(first, PrefixTuningModel) else "prefix")[0]
    with pytest.raises(ValueError, match="cannot interpolate a (prefix|prompt) adapter with the"):
        interpolate_models(first, other_kind, 0.5)


def test_add_interpolated_follows_the_models_train_or_eval_mode():
    model = PrefixTuningModel.from_model(tiny_model("llama"), PrefixConfig(prefix_length=3, prefix_dropout=0.5))
    model.add_adapter("b")
    assert model.eval().add_interpolated("in_eval", "default", "b", 0.5).training is False
    assert model.train().add_interpolated("in_train", "default", "b", 0.5).training is True


def test_cli_writes_a_normal_artifact_and_reports_errors_in_one_line(saved_pair, tmp_path):
    first, second, first_dir, second_dir = saved_pair
    out = tmp_path / "mix"
    result = CliRunner().invoke(main, ["interpolate", str(first_dir), str(second_dir), "--alpha", "0.3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in out.iterdir()) == sorted(path.name for path in first_dir.iterdir())
    loaded, ours, theirs = _tensors(load_adapter(out)), _tensors(first), _tensors(second)
    for name, tensor in loaded.items():
        assert torch.equal(tensor, 0.3 * ours[name] + 0.7 * theirs[name]), name
    kind = "prefix" if isinstance(first, PrefixTuningModel) else "prompt"
    longer = BUILDERS[kind](5)
    longer_dir = longer.save_pretrained(tmp_path / "longer")
    command = ["interpolate", str(first_dir), str(longer_dir), "--alpha", "0.5", "--out", str(tmp_path / "x")]
    failed = CliRunner().invoke(main, command)
    assert failed.exit_code == 1
    errors = [line for line in failed.output.splitlines() if "Error" in line]  # the rest: base-model loading progress
    assert len(errors) == 1 and errors[0].startswith(f"Error: ValueError: cannot interpolate '{kind}' of shapes (3, ")
    assert not (tmp_path / "x").exists()


def test_interpolate_out_equal_to_an_input_or_a_symlink_is_refused_before_writing(saved_pair, tmp_path):
    _, _, first_dir, second_dir = saved_pair
    before = {path.name: path.read_bytes() for path in first_dir.iterdir()}
    same = CliRunner().invoke(main, ["interpolate", str(first_dir), str(second_dir), "--alpha", "0.5",
                                     "--out", str(first_dir)])
    assert same.exit_code == 2 and "is the input" in same.output
    assert {path.name: path.read_bytes() for path in first_dir.iterdir()} == before
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    linked = CliRunner().invoke(main, ["interpolate", str(first_dir), str(second_dir), "--alpha", "0.5",
                                       "--out", str(link)])
    assert linked.exit_code == 2 and "symbolic link" in linked.output
    assert not (tmp_path / "elsewhere").exists()
