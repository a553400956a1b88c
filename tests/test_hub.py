"""Hugging Face Hub interop: model cards carry the Hub's metadata header (test scores as evaluation
results), and an artifact or a registry version is pushed through huggingface_hub (uploads intercepted)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import tiny_model
from huggingface_hub import HfApi, ModelCard, constants
from huggingface_hub.hf_api import CommitInfo

from prefixes import PrefixConfig, PrefixTuningModel, PromptConfig, PromptTuningModel
from prefixes.artifact.card import add_card_results
from prefixes.cli.registry import registry
from prefixes.hub import push_to_hub
from prefixes.registry import Registry

METRICS = {"accuracy": 0.875, "loss": 0.4321}


@pytest.fixture
def hub_calls(monkeypatch):
    """HfApi's repository creation and upload, recorded instead of sent; online as far as the code can tell."""
    calls = []

    def create_repo(self, repo_id, **kwargs):
        calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, **kwargs):
        files = sorted(path.name for path in kwargs["folder_path"].iterdir())
        cards = {"card": (kwargs["folder_path"] / "README.md").read_text()}
        calls.append(("upload_folder", {**kwargs, "files": files, **cards}))
        return CommitInfo(commit_url=f"https://huggingface.co/{kwargs['repo_id']}/commit/abc", commit_message="",
                          commit_description="", oid="abc")

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return calls


def _saved(tmp_path, name_or_path="smollm2"):
    model = PrefixTuningModel.from_model(tiny_model("llama"), PrefixConfig(prefix_length=3),
                                         model_name_or_path=name_or_path)
    return model.save_pretrained(tmp_path / "artifact")


def test_the_model_card_carries_the_hubs_metadata_header(tmp_path):
    card = ModelCard.load(_saved(tmp_path) / "README.md")
    assert card.data.library_name == "prefixes"
    assert card.data.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert card.data.pipeline_tag == "text-generation"
    assert card.data.tags == ["prefixes", "prefix"]
    assert "# prefix adapter for smollm2" in card.text
    classifier = PromptTuningModel.from_model(tiny_model("bert"), PromptConfig(num_virtual_tokens=2),
                                              model_name_or_path="minilm")
    data = ModelCard.load(classifier.save_pretrained(tmp_path / "classifier") / "README.md").data
    assert (data.base_model, data.pipeline_tag, data.tags) == (
        "sentence-transformers/all-MiniLM-L6-v2", "text-classification", ["prefixes", "prompt"])


def test_a_base_model_in_a_local_folder_is_not_named_as_a_hub_model(tmp_path):
    (tmp_path / "base").mkdir()
    card = ModelCard.load(_saved(tmp_path, str(tmp_path / "base")) / "README.md")
    assert card.data.base_model is None and card.data.library_name == "prefixes"


def test_test_scores_become_the_cards_evaluation_results_in_the_registry_version(tmp_path):
    artifact = _saved(tmp_path)
    add_card_results(artifact, "chat-prefix", METRICS, dataset_name="chat", datasets=["org/chat-logs"])
    entry = Registry(tmp_path / "registry").publish(artifact, task="chat", method="prefix", metrics=METRICS)
    card = ModelCard.load(entry.path / "README.md")
    results = {result.metric_type: result.metric_value for result in card.data.eval_results}
    assert results == METRICS
    assert {(r.dataset_name, r.dataset_split, r.task_type) for r in card.data.eval_results} == {
        ("chat", "test", "text-generation")}
    assert card.data.model_name == "chat-prefix" and card.data.datasets == ["org/chat-logs"]
    assert "model-index:" in (entry.path / "README.md").read_text()
    assert entry.load(base_model=tiny_model("llama")).adapters["default"].config.prefix_length == 3


def test_push_to_hub_creates_the_repository_and_uploads_the_artifact(tmp_path, hub_calls):
    artifact = _saved(tmp_path)
    commit = push_to_hub(artifact, "someone/chat-prefix", private=True)
    assert commit.commit_url == "https://huggingface.co/someone/chat-prefix/commit/abc"
    (create, created), (upload, uploaded) = hub_calls
    assert (create, created) == ("create_repo", {"repo_id": "someone/chat-prefix", "private": True,
                                                 "repo_type": "model", "exist_ok": True})
    assert upload == "upload_folder" and uploaded["folder_path"] == artifact
    assert uploaded["repo_id"] == "someone/chat-prefix" and uploaded["create_pr"] is False
    assert uploaded["files"] == ["README.md", "prefix.safetensors", "prefix_config.json"]
    assert "library_name: prefixes" in uploaded["card"]


def test_push_to_hub_offline_says_how_to_go_online(tmp_path, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ConnectionError, match="offline mode is on .*run with HF_HUB_OFFLINE=0"):
        push_to_hub(_saved(tmp_path), "someone/chat-prefix")


def test_push_to_hub_refuses_a_folder_that_is_not_an_artifact(tmp_path, hub_calls):
    with pytest.raises(FileNotFoundError, match="is not a prefixes artifact: missing prefix_config.json"):
        push_to_hub(tmp_path, "someone/chat-prefix")
    artifact = _saved(tmp_path)
    (artifact / "README.md").unlink()
    with pytest.raises(FileNotFoundError, match="has no README.md model card"):
        push_to_hub(artifact, "someone/chat-prefix")
    assert hub_calls == []


def test_registry_push_uploads_the_stored_version(tmp_path, hub_calls):
    entry = Registry(tmp_path / "registry").publish(_saved(tmp_path), task="chat", method="prefix")
    result = CliRunner().invoke(registry, ["push", "chat", "--method", "prefix", "--version", "v1", "--repo-id",
                                           "someone/chat", "--registry", str(tmp_path / "registry"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"ref": "chat/prefix/v1", "digest": entry.metadata.digest, "repo_id": "someone/chat",
                                         "commit_url": "https://huggingface.co/someone/chat/commit/abc"}
    uploaded = hub_calls[1][1]
    assert uploaded["folder_path"] == entry.path
    assert uploaded["files"] == ["README.md", "metadata.json", "prefix.safetensors", "prefix_config.json"]
    assert uploaded["commit_message"] == f"Upload chat/prefix/v1 (digest {entry.metadata.digest[:16]}) from a prefixes registry"


def test_registry_push_refuses_a_version_whose_files_changed(tmp_path, hub_calls):
    entry = Registry(tmp_path / "registry").publish(_saved(tmp_path), task="chat", method="prefix")
    (entry.path / "README.md").write_text("edited\n")
    result = CliRunner().invoke(registry, ["push", "chat", "--method", "prefix", "--repo-id", "someone/chat",
                                           "--registry", str(tmp_path / "registry")])
    assert result.exit_code == 1
    assert "refusing to push chat/prefix/v1: its files do not match the hashes recorded at publish time" in result.output
    assert hub_calls == []
