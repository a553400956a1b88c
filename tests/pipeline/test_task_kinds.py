"""NLI, extractive QA and multiple choice through prepare -> train -> evaluate -> compare, in process,
on the vendored corpora and a tiny random encoder that reads with MiniLM's tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner
from transformers import AutoTokenizer, BertConfig, BertModel, LlamaConfig, LlamaForCausalLM

from pipeline.bundle import bundle_groups, multi_task_bundle
from pipeline.compare import markdown_table, write_report
from pipeline.evaluate import evaluate_run
from pipeline.params import EvaluateSettings, Params, TaskConfig
from pipeline.plots import draw_task_curves
from pipeline.prepared import split_task, write_prepared
from pipeline.report import RunDirs, collect_rows
from pipeline.train import train_run
from prefixes.base_models import resolve_model_path
from prefixes.cli.predict import predict
from prefixes.data.sources import load_source
from prefixes.registry import Registry

TASKS = {
    "snli": {"source": "snli", "format": "classification", "model": "tiny", "max_length": 48,
             "max_examples": {"train": 12, "eval": 4, "test": 6}},
    "xquad": {"source": "xquad_en", "format": "extractive_qa", "model": "tiny", "max_length": 96,
              "max_examples": {"train": 12, "eval": 4, "test": 6}},
    "commonsense_qa": {"source": "commonsense_qa", "format": "multiple_choice", "model": "tiny", "max_length": 32,
                       "max_examples": {"train": 12, "eval": 4, "test": 6}},
}
HEADLINE = {"snli": {"accuracy", "macro_f1", "loss"}, "xquad": {"exact_match", "f1", "loss"},
            "commonsense_qa": {"accuracy", "loss"}}


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> Path:
    """A 2-layer random BERT with MiniLM's vocabulary, saved with MiniLM's tokenizer."""
    folder = tmp_path_factory.mktemp("tiny-encoder")
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path("minilm"))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=160)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _params(encoder: Path, method: str) -> Params:
    return Params.model_validate({
        "seed": 3, "models": {"tiny": str(encoder)}, "tasks": TASKS, "task_names": list(TASKS),
        "prefix_methods": [method] if method != "prompt" else [], "prompt_methods": ["prompt"] if method == "prompt" else [],
        "evaluated_methods": [method],
        "methods": {"prefix": {"config": {"prefix_length": 3, "prefix_hidden_size": 16}},
                    "prompt": {"config": {"num_virtual_tokens": 3}}},
        "training": {"max_steps": 3, "batch_size": 4, "eval_batch_size": 4, "log_every": 1},
    })


def _prepare(params: Params, task: str, data: Path) -> None:
    splits, labels = split_task(params.tasks[task], seed=params.seed)  # the tiny budget truncates on purpose
    write_prepared(params.tasks[task], seed=params.seed, splits=splits, label_names=labels, output_dir=data,
                   truncation={}, truncation_warnings=[])


def _run_everything(params: Params, root: Path, method: str) -> dict[str, dict]:
    results = {}
    for task in params.task_names:
        data, run = root / "data" / task, root / "artifacts" / task / method
        _prepare(params, task, data)
        train_run(params, task, method, data, run)
        test = evaluate_run(params, task, run / "best", data)
        metrics = {k: v for k, v in test.items() if isinstance(v, float)}
        (root / "metrics" / task).mkdir(parents=True, exist_ok=True)
        (root / "metrics" / task / f"{method}.json").write_text(json.dumps(metrics))
        (root / "evaluations" / task).mkdir(parents=True, exist_ok=True)
        (root / "evaluations" / task / f"{method}.json").write_text(json.dumps(test))
        results[task] = test
    return results


@pytest.mark.parametrize("method", ["prefix", "prompt"])
def test_every_task_kind_trains_evaluates_and_compares_on_its_headline(tiny_encoder, tmp_path, method):
    params = _params(tiny_encoder, method)
    results = _run_everything(params, tmp_path, method)

    for task, keys in HEADLINE.items():
        assert keys <= set(results[task]), (task, sorted(results[task]))
        assert results[task]["examples"] == 6
    assert json.loads((tmp_path / "data" / "commonsense_qa" / "data.json").read_text())["label_names"] == list("ABCDE")
    assert json.loads((tmp_path / "data" / "snli" / "data.json").read_text())["label_names"] == [
        "contradiction", "entailment", "neutral"]
    assert 0 <= results["xquad"]["exact_match"] <= results["xquad"]["f1"] <= 100
    rows = collect_rows(params, RunDirs(tmp_path / "artifacts", tmp_path / "metrics", tmp_path / "evaluations"),
                        tmp_path / "data")
    headline = {(row["task"], row["method"]): row["metric"] for row in rows}
    assert headline == {("snli", method): "accuracy", ("snli", "majority"): "accuracy",
                        ("xquad", method): "f1",
                        ("commonsense_qa", method): "accuracy", ("commonsense_qa", "majority"): "accuracy"}
    assert bundle_groups(params) == [("tiny", "", ["snli"]), ("tiny", "-qa", ["xquad"]),
                                     ("tiny", "-choice", ["commonsense_qa"])]
    write_report(rows, tmp_path / "reports")
    assert f"| xquad | {method} | f1 {results['xquad']['f1']:.4g} |  | {results['xquad']['exact_match']:.4g} |" in (
        markdown_table(rows))
    _bundle_and_predict(params, tmp_path, method)
    registry = Registry(tmp_path / "registry")
    for task in params.task_names:  # filed and loaded back, each run scores exactly as before
        entry = registry.publish(tmp_path / "artifacts" / task / method / "best", task=task, method=method)
        again = evaluate_run(params, task, entry.path, tmp_path / "data" / task)
        assert {k: v for k, v in again.items() if isinstance(v, float)} == {
            k: v for k, v in results[task].items() if isinstance(v, float)}
    for task in params.task_names:
        draw_task_curves(task, params.tasks[task].format, [method], tmp_path / "artifacts", tmp_path / f"{task}.png")
        assert (tmp_path / f"{task}.png").stat().st_size > 1000


def _bundle_and_predict(params: Params, root: Path, method: str) -> None:
    """The bundle stage bundles each kind apart and serves NLI pairs, QA and multiple choice through `prefixes predict`."""
    params_path = root / "params.yaml"
    params_path.write_text(yaml.safe_dump(params.model_dump(mode="json", exclude_unset=True)))
    (root / "published.json").write_text("{}")
    result = CliRunner().invoke(multi_task_bundle, [
        "--params", str(params_path), "--artifacts-dir", str(root / "artifacts"), "--data-dir", str(root / "data"),
        "--published", str(root / "published.json"), "--out", str(root / "bundles")])
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in (root / "bundles").iterdir()) == [
        f"tiny-{method}", f"tiny-{method}-choice", f"tiny-{method}-qa"]
    question = load_source("xquad_en", limit=1)[0]
    choices = ["a river", "a bank", "a shop"]
    requests = {"qa": {"task": "xquad", "text": question.text, "text_pair": question.text_pair},
                "": {"task": "snli", "text": "A dog runs.", "text_pair": "An animal moves."},
                "choice": {"task": "commonsense_qa", "text": "Where is money kept?", "choices": choices}}
    for suffix, request in requests.items():
        manifest = root / "bundles" / (f"tiny-{method}-{suffix}" if suffix else f"tiny-{method}") / "manifest.json"
        answered = CliRunner().invoke(predict, ["--bundle", str(manifest)], input=json.dumps(request) + "\n")
        assert answered.exit_code == 0, answered.output
        answer = json.loads(answered.stdout)
        if suffix == "qa":
            assert answer["prediction"] in str(question.text_pair)
        elif suffix == "choice":
            assert answer["prediction"] == choices[answer["label"]]
        else:
            assert answer["prediction"] in ("contradiction", "entailment", "neutral")


def test_all_kinds_profile_is_valid_and_runs_one_task_of_every_kind():
    root = Path(__file__).parents[2]
    from pipeline.params import load_params

    params = load_params(root / "params-all-kinds.yaml")
    formats = {params.tasks[task].format for task in params.task_names}
    assert formats == {"classification", "extractive_qa", "multiple_choice", "causal_generation"}
    sources = {params.tasks[task].source for task in params.task_names}
    assert {"snli", "xquad_en", "commonsense_qa", "wmt21_de_en", "scitldr", "imdb", "bbc_news", "drug_reviews",
            "chitchat"} == sources
    default = yaml.safe_load((root / "params.yaml").read_text())
    assert set(default["task_names"]) <= set(params.task_names)


def test_baselines_report_the_headline_of_qa_and_multiple_choice(tiny_encoder, tmp_path):
    params = _params(tiny_encoder, "prefix").model_copy(update={"task_names": ["xquad", "commonsense_qa"]})
    for task, method in (("xquad", "lora"), ("commonsense_qa", "full_finetune")):
        data, run = tmp_path / "data" / task, tmp_path / "artifacts" / task / method
        _prepare(params, task, data)
        outputs = (tmp_path / "metrics" / f"{task}-{method}.json", tmp_path / "details" / f"{task}-{method}.json")
        train_run(params, task, method, data, run, test_outputs=outputs)
        metrics = json.loads(outputs[0].read_text())
        assert HEADLINE[task] <= set(metrics), (task, sorted(metrics))
    with pytest.raises(ValueError, match="'multiple_choice': PEFT has no LoRA task type for it"):
        train_run(params, "commonsense_qa", "lora", tmp_path / "data" / "commonsense_qa", tmp_path / "lora-mc")


def test_translation_and_summarisation_as_templated_causal_generation(tmp_path):
    """wmt and scitldr as the all-kinds profile runs them, on a tiny random Llama with SmolLM2's tokenizer."""
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path("smollm2"))
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                 num_key_value_heads=2, intermediate_size=64)).save_pretrained(tmp_path / "llama")
    tokenizer.save_pretrained(tmp_path / "llama")
    profile = yaml.safe_load((Path(__file__).parents[2] / "params-all-kinds.yaml").read_text())
    tasks = {name: {**profile["tasks"][name], "model": "tiny", "max_examples": {"train": 4, "eval": 2, "test": 2}}
             for name in ("wmt", "scitldr")}
    params = _params(tmp_path / "llama", "prefix").model_copy(update={
        "tasks": {name: TaskConfig.model_validate(task) for name, task in tasks.items()}, "task_names": list(tasks),
        "evaluate": EvaluateSettings(generation_examples=2, max_new_tokens=3)})
    results = _run_everything(params, tmp_path, "prefix")
    for task in tasks:
        assert {"bleu", "rouge_l", "perplexity", "base_perplexity"} <= set(results[task])
        assert results[task]["generated_examples"] == 2
        assert results[task]["sample_predictions"][0]["source"] == _prepared_test(tmp_path, task)[0]["text"]
    # A baseline tests in its training process and is scored on generated text the same way.
    outputs = (tmp_path / "baseline-metrics.json", tmp_path / "baseline-details.json")
    train_run(params, "wmt", "lora", tmp_path / "data" / "wmt", tmp_path / "lora", test_outputs=outputs)
    baseline = json.loads(outputs[0].read_text())
    assert {"bleu", "rouge_l", "perplexity"} <= set(baseline), sorted(baseline)
    assert json.loads(outputs[1].read_text())["generated_examples"] == 2


def _prepared_test(root: Path, task: str) -> list[dict]:
    return [json.loads(line) for line in (root / "data" / task / "test.jsonl").read_text().splitlines()]
