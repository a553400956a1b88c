"""Multiple-choice tasks served by a bundle: each example's prefix and head score its own choices."""

from __future__ import annotations

import pytest
import torch
from bundle_artifacts import saved
from transformers import AutoTokenizer, BertConfig, BertModel

from prefixes import ModelConfig, MultiTaskModel, PrefixConfig, PrefixTuningModel, PromptConfig, PromptTuningModel
from prefixes.base_models import resolve_model_path
from prefixes.bundle import BundleError
from prefixes.data import Example, MultipleChoiceFormat, collate
from prefixes.model import load_adapter

METHODS = {
    "p_tuning_v2": lambda config, length: PrefixTuningModel.from_config(
        config, PrefixConfig(prefix_length=length, reparameterization=False)),
    "prompt": lambda config, length: PromptTuningModel.from_config(config, PromptConfig(num_virtual_tokens=length)),
}
REQUESTS = [
    {"task": "science", "text": "What do plants take in to make food?", "choices": ["light", "sand", "noise"]},
    {"task": "commonsense", "text": "Where would you keep milk cold?", "choices": ["oven", "fridge", "attic", "car"]},
    {"task": "commonsense", "text": "What do you use to cut paper?", "choices": ["scissors", "spoon", "pillow"]},
]


@pytest.fixture(params=sorted(METHODS))
def artifacts(request, tmp_path):
    """Two multiple-choice tasks over one tiny BERT with the MiniLM tokenizer: 2 and 4 virtual tokens."""
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path("minilm"))
    base = tmp_path / "base"
    torch.manual_seed(0)
    BertModel(BertConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, intermediate_size=64,
                         vocab_size=tokenizer.vocab_size)).save_pretrained(base)
    tokenizer.save_pretrained(base)
    config = ModelConfig(model_name_or_path=str(base), task_type="multiple_choice")
    return {task: saved(METHODS[request.param](config, length), seed, tmp_path / task)
            for seed, (task, length) in enumerate({"commonsense": 2, "science": 4}.items())}


def _alone_scores(artifact, request) -> torch.Tensor:
    """The choice scores of the task's own artifact, encoded by the multiple-choice format."""
    model = load_adapter(artifact).eval()
    names = [chr(ord("A") + i) for i in range(len(request["choices"]))]
    example = Example(request["text"], choices=tuple(request["choices"]), label="A")
    features, _ = MultipleChoiceFormat(model.tokenizer, names, max_length=64).encode([example])
    batch = collate([{k: v for k, v in features[0].items() if k != "labels"}], pad_token_id=0)
    with torch.no_grad():
        return model(**batch).logits[0]


def test_a_bundle_answers_multiple_choice_requests_as_each_task_alone(artifacts):
    bundle = MultiTaskModel.from_artifacts(artifacts)
    answers = bundle.predict(REQUESTS, batch_size=3)
    assert [{k: a[k] for k in request} for a, request in zip(answers, REQUESTS)] == REQUESTS
    for request, answer in zip(REQUESTS, answers):
        scores = _alone_scores(artifacts[request["task"]], request)
        assert answer["label"] == int(scores.argmax())
        assert answer["prediction"] == request["choices"][answer["label"]]


def test_a_mixed_multiple_choice_batch_scores_each_example_with_its_own_task(artifacts):
    bundle = MultiTaskModel.from_artifacts(artifacts)
    same_count = [dict(REQUESTS[0]), dict(REQUESTS[2])]  # three choices each: one forward
    examples = [Example(r["text"], choices=tuple(r["choices"]), label="A") for r in same_count]
    features, _ = MultipleChoiceFormat(bundle.model.tokenizer, ["A", "B", "C"], max_length=64).encode(examples)
    batch = collate([{k: v for k, v in f.items() if k != "labels"} for f in features], pad_token_id=0)
    with torch.no_grad():
        logits = bundle([r["task"] for r in same_count], **batch).logits
    assert logits.shape == (2, 3)
    for row, request in enumerate(same_count):
        torch.testing.assert_close(logits[row], _alone_scores(artifacts[request["task"]], request), atol=1e-5, rtol=0)


def test_multiple_choice_requests_without_choices_are_refused(artifacts):
    bundle = MultiTaskModel.from_artifacts(artifacts)
    with pytest.raises(BundleError, match=r"^request 2 \(task 'science'\) gives 1 choices: a multiple-choice request "
                                          r"gives the question in 'text' and two or more non-empty answers in 'choices'"):
        bundle.predict([REQUESTS[0], {"task": "science", "text": "Why?", "choices": ["yes"]}])
