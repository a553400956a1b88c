"""The schema of ``params.yaml``: every knob of the pipeline, validated before any work starts.

Errors are collected by pydantic and reported all at once, each with its dotted key, so a typo'd
key, a negative learning rate or an unknown task stops ``dvc repro`` with one readable message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from prefixes.config import PrefixConfig, PromptConfig, StrictModel, TrainingConfig
from prefixes.tasks import TaskConfig

BaselineName = Literal["full_finetune", "lora"]
PREFIX_METHODS = ("prefix", "p_tuning_v2")
PROMPT_METHODS = ("prompt",)


class MethodSettings(StrictModel):
    """A method's configuration and its training overrides."""

    prefix: PrefixConfig | None = None
    prompt: dict | None = Field(
        default=None,
        description="PromptConfig fields; with prompt_tuning_init 'class_labels' the words default to the task's labels.",
    )
    training: dict = Field(default_factory=dict, description="Overrides of the shared `training` section.")


class BaselineSettings(StrictModel):
    """Reference points measured through the same training loop."""

    tasks: list[str] = Field(default_factory=list, description="Tasks that also train the baselines.")
    methods: list[BaselineName] = Field(default_factory=lambda: ["full_finetune", "lora"])
    lora_r: int = Field(default=8, ge=1)
    lora_alpha: int = Field(default=16, ge=1)
    training: dict[BaselineName, dict] = Field(default_factory=dict, description="Per-baseline overrides.")


class EvaluateSettings(StrictModel):
    generation_examples: int = Field(default=24, ge=1, description="Test examples generated for BLEU/ROUGE-L.")
    max_new_tokens: int = Field(default=24, ge=1)


class BundleSettings(StrictModel):
    publish: bool = Field(default=False, description="Publish the bundle members into the registry.")
    registry: str = Field(default="registry", description="Registry directory to publish into.")


class Params(StrictModel):
    """The whole of params.yaml."""

    seed: int = 42
    models: dict[str, str] = Field(description="Base model key -> hub id, local folder or embedded short name.")
    tasks: dict[str, TaskConfig]
    task_names: list[str] = Field(description="Tasks the pipeline runs (the DVC matrix reads this list).")
    prefix_methods: list[Literal["prefix", "p_tuning_v2"]] = Field(default_factory=lambda: list(PREFIX_METHODS))
    prompt_methods: list[Literal["prompt"]] = Field(default_factory=lambda: list(PROMPT_METHODS))
    evaluated_methods: list[str] = Field(
        default_factory=lambda: [*PREFIX_METHODS, *PROMPT_METHODS],
        description="prefix_methods + prompt_methods, spelled out for the evaluate stage's DVC matrix.",
    )
    methods: dict[Literal["prefix", "p_tuning_v2", "prompt"], MethodSettings]
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    task_training: dict[str, dict] = Field(
        default_factory=dict,
        description="Per-task training overrides; a `methods: {method: {...}}` entry narrows them to one method.",
    )
    baselines: BaselineSettings = Field(default_factory=BaselineSettings)
    evaluate: EvaluateSettings = Field(default_factory=EvaluateSettings)
    bundle: BundleSettings = Field(default_factory=BundleSettings)

    @model_validator(mode="after")
    def _references_resolve(self) -> Params:
        problems = name_problems(self.model_dump())
        for method in [*self.prefix_methods, *self.prompt_methods]:
            settings = self.methods.get(method)
            wanted = "prompt" if method in PROMPT_METHODS else "prefix"
            if settings is None or getattr(settings, wanted) is None:
                problems.append(f"methods.{method}.{wanted}: missing; every listed method needs its configuration")
        if sorted(self.evaluated_methods) != sorted([*self.prefix_methods, *self.prompt_methods]):
            problems.append(
                f"evaluated_methods: {self.evaluated_methods} must list exactly prefix_methods + prompt_methods "
                f"({[*self.prefix_methods, *self.prompt_methods]})"
            )
        for method, settings in self.methods.items():
            if settings.prompt is not None:
                problems.extend(_prompt_problems(method, settings.prompt))
        overrides = {f"methods.{m}.training": s.training for m, s in self.methods.items()}
        overrides |= {f"baselines.training.{m}": values for m, values in self.baselines.training.items()}
        for task, values in self.task_training.items():
            overrides[f"task_training.{task}"] = {k: v for k, v in values.items() if k != "methods"}
            for method, narrowed in values.get("methods", {}).items():
                overrides[f"task_training.{task}.methods.{method}"] = narrowed
        for owner, values in overrides.items():
            unknown = set(values) - set(TrainingConfig.model_fields)
            if unknown:
                problems.append(f"{owner}: unknown training keys {sorted(unknown)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def method_config(self, method: str, label_names: list[str] | None) -> PrefixConfig | PromptConfig:
        """The method's config; class-label prompt init takes the task's label words."""
        settings = self.methods[method]
        if method not in PROMPT_METHODS:
            return settings.prefix
        fields = dict(settings.prompt)
        if fields.get("prompt_tuning_init") == "class_labels" and not fields.get("class_labels"):
            if label_names:
                fields["class_labels"] = label_names
            else:  # generation tasks have no labels: the paper's vocabulary sampling instead
                fields["prompt_tuning_init"] = "vocab_sample"
        return PromptConfig.model_validate(fields)

    def training_config(self, task: str, method: str) -> TrainingConfig:
        """Shared training settings, then the method's overrides, then the task's, then the task's for this method."""
        overrides = self.baselines.training.get(method, {}) if method in ("full_finetune", "lora") else self.methods[method].training
        task_overrides = dict(self.task_training.get(task, {}))
        narrowed = task_overrides.pop("methods", {}).get(method, {})
        merged = {**self.training.model_dump(exclude_unset=True), **overrides, **task_overrides, **narrowed}
        return TrainingConfig.model_validate(merged)


def name_problems(data: dict) -> list[str]:
    """Names that must refer to defined tasks and models. Works on raw, possibly invalid params
    too, so these problems are reported together with field errors, not after they are fixed."""
    def section(key):
        value = data.get(key)
        return value if isinstance(value, (dict, list)) else {}

    tasks, models, baselines = section("tasks"), section("models"), section("baselines")
    problems = []
    for key, names in (("task_names", section("task_names")), ("baselines.tasks", baselines.get("tasks") or [])):
        for name in names if isinstance(names, list) else []:
            if name not in tasks:
                problems.append(f"{key}: unknown task {name!r}; defined tasks are {sorted(tasks)}")
    for name, task in tasks.items():
        model = task.get("model") if isinstance(task, dict) else None
        if model is not None and model not in models:
            problems.append(f"tasks.{name}.model: unknown model {model!r}; defined models are {sorted(models)}")
    for name in section("task_training"):
        if name not in tasks:
            problems.append(f"task_training.{name}: unknown task; defined tasks are {sorted(tasks)}")
    return problems


def _prompt_problems(method: str, fields: dict) -> list[str]:
    """Validate prompt fields now, with stand-in label words where the task will supply them."""
    trial = dict(fields)
    if trial.get("prompt_tuning_init") == "class_labels" and not trial.get("class_labels"):
        trial["class_labels"] = ["label"]
    try:
        PromptConfig.model_validate(trial)
    except ValidationError as error:
        return [f"methods.{method}.prompt.{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in error.errors()]
    return []


class ParamsError(ValueError):
    """params.yaml is unusable; the message lists every problem with its key."""


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ParamsError(f"cannot read {path}: {error}") from error
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            if problem["loc"]:
                lines.append(f"  {'.'.join(map(str, problem['loc']))}: {problem['msg']} (got {problem.get('input')!r:.80})")
            else:  # cross-field checks: their message names the keys
                lines.append(f"  {problem['msg'].removeprefix('Value error, ')}")
        if isinstance(raw, dict):
            lines += [f"  {problem}" for problem in name_problems(raw) if not any(problem in line for line in lines)]
        raise ParamsError(f"{path} has {len(lines)} problem(s):\n" + "\n".join(lines)) from None
