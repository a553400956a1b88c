"""Pair classification (NLI) through a bundle: `text_pair` requests, mixed with single texts in one batch,
score as the task's own model scores the pair; a pair sent to a generation task is refused."""

from __future__ import annotations

import json

import pytest
import torch
from bundle_artifacts import saved
from click.testing import CliRunner
from transformers import AutoModelForCausalLM, AutoTokenizer, BertConfig, BertModel, LlamaConfig

from prefixes import ModelConfig, MultiTaskModel, PrefixConfig, PrefixTuningModel, load_adapter
from prefixes.base_models import resolve_model_path
from prefixes.bundle import BundleError, build_manifest, write_manifest
from prefixes.bundle.serving import classification_batch
from prefixes.cli.predict import predict
from prefixes.data.example import Example

LABELS = {"nli": ["contradiction", "entailment", "neutral"], "topic": ["sports", "science"]}
REQUESTS = [
    {"task": "nli", "text": "A man plays a guitar on stage.", "text_pair": "A person makes music."},
    {"task": "topic", "text": "The striker scored twice in the final."},
    {"task": "nli", "text": "Two dogs run on the beach.", "text_pair": "The animals are asleep indoors."},
]


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(resolve_model_path("minilm"))


@pytest.fixture
def pair_bundle(tmp_path, tokenizer):
    """A tiny BERT with the MiniLM vocabulary, an NLI task and a single-text task over it."""
    base = tmp_path / "base"
    torch.manual_seed(0)
    BertModel(BertConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, intermediate_size=64,
                         vocab_size=tokenizer.vocab_size)).save_pretrained(base)
    tokenizer.save_pretrained(base)
    members = []
    for seed, (task, names) in enumerate(LABELS.items()):
        config = ModelConfig(model_name_or_path=str(base), task_type="text_classification", num_labels=len(names))
        wrapper = PrefixTuningModel.from_config(config, PrefixConfig(prefix_length=3 + seed, reparameterization=False))
        members.append((task, "p_tuning_v2", saved(wrapper, seed + 4, tmp_path / task), names))
    manifest = build_manifest("pairs", members, tmp_path / "bundle")
    return write_manifest(tmp_path / "bundle" / "manifest.json", manifest), {task: path for task, _, path, _ in members}


def _alone_logits(directory, tokenizer, request: dict) -> torch.Tensor:
    model = load_adapter(directory).eval()
    with torch.no_grad():
        return model(**tokenizer(request["text"], request.get("text_pair"), return_tensors="pt")).logits[0]


def test_mixed_pair_and_single_batch_scores_each_request_as_its_task_alone(pair_bundle, tokenizer):
    manifest_path, directories = pair_bundle
    bundle = MultiTaskModel.from_bundle(manifest_path)
    batch = classification_batch(bundle, [Example(r["text"], text_pair=r.get("text_pair")) for r in REQUESTS])
    assert batch["token_type_ids"][1].sum() == 0 and batch["token_type_ids"][0].sum() > 0
    scored = bundle.classify([r["task"] for r in REQUESTS], **batch)
    for request, logits in zip(REQUESTS, scored):
        torch.testing.assert_close(logits, _alone_logits(directories[request["task"]], tokenizer, request),
                                   atol=1e-5, rtol=0)


def test_predict_cli_takes_text_pair_and_echoes_it(pair_bundle, tokenizer):
    manifest_path, directories = pair_bundle
    lines = "".join(json.dumps(request) + "\n" for request in REQUESTS)
    result = CliRunner().invoke(predict, ["--bundle", str(manifest_path), "--batch-size", "2"], input=lines)
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [{k: a[k] for k in request} for a, request in zip(answers, REQUESTS)] == REQUESTS
    assert "text_pair" not in answers[1]
    for request, answer in zip(REQUESTS, answers):
        label = int(_alone_logits(directories[request["task"]], tokenizer, request).argmax())
        assert (answer["label"], answer["prediction"]) == (label, LABELS[request["task"]][label])


def test_a_text_pair_for_a_generation_task_is_refused_before_any_generation(tokenizer, tmp_path):
    torch.manual_seed(0)
    config = LlamaConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=64, vocab_size=tokenizer.vocab_size, pad_token_id=0)
    base = AutoModelForCausalLM.from_config(config).eval()
    wrapper = PrefixTuningModel.from_model(base, PrefixConfig(prefix_length=2, prefix_dropout=0.0), tokenizer=tokenizer)
    bundle = MultiTaskModel.from_artifacts({"echo": saved(wrapper, 0, tmp_path / "echo")}, base_model=base, tokenizer=tokenizer)
    requests = [{"task": "echo", "text": "hi"}, {"task": "echo", "text": "hi", "text_pair": "there"}]
    with pytest.raises(BundleError, match=r"^request 2 \(task 'echo'\) gives a text_pair"):
        bundle.predict(requests, max_new_tokens=3)


QA_REQUESTS = [
    {"task": "squad", "text": "Where does Bob live?", "text_pair": "Bob lives in Paris with his two cats."},
    {"task": "trivia", "text": "Who wrote it?", "text_pair": "The novel was written by Jane Austen in 1813."},
    {"task": "squad", "text": "What did she find?", "text_pair": "Under the old bridge she found a rusty key."},
]


def test_extractive_qa_requests_answer_with_the_span_each_task_alone_picks(tokenizer, tmp_path):
    from prefixes.bundle.serving import input_room
    from prefixes.data.qa import ExtractiveQAFormat
    from prefixes.metrics import decode_answer

    base = tmp_path / "base"
    torch.manual_seed(0)
    BertModel(BertConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, intermediate_size=64,
                         vocab_size=tokenizer.vocab_size)).save_pretrained(base)
    tokenizer.save_pretrained(base)
    config = ModelConfig(model_name_or_path=str(base), task_type="question_answering")
    artifacts = {task: saved(PrefixTuningModel.from_config(config, PrefixConfig(prefix_length=2 + 3 * seed,
                                                                                 reparameterization=False)),
                             seed, tmp_path / task)
                 for seed, task in enumerate(("squad", "trivia"))}
    bundle = MultiTaskModel.from_artifacts(artifacts)
    answers = bundle.predict(QA_REQUESTS, batch_size=3)
    assert [{k: a[k] for k in request} for a, request in zip(answers, QA_REQUESTS)] == QA_REQUESTS
    fmt = ExtractiveQAFormat(tokenizer, input_room(bundle, 0))
    for request, answer in zip(QA_REQUESTS, answers):
        alone = load_adapter(artifacts[request["task"]]).eval()
        features, offsets = fmt.inputs([Example(request["text"], text_pair=request["text_pair"])])
        with torch.no_grad():
            output = alone(**{key: torch.tensor([value]) for key, value in features[0].items()})
        expected = decode_answer(output.start_logits[0].tolist(), output.end_logits[0].tolist(), offsets[0],
                                 request["text_pair"])
        assert answer["prediction"] == expected and expected and expected in request["text_pair"]
    with pytest.raises(BundleError, match=r"^request 2 \(task 'trivia'\) has no text_pair"):
        bundle.predict([QA_REQUESTS[0], {"task": "trivia", "text": "Who?"}])
