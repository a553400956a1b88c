"""The schema of ``params.yaml``: every knob of the pipeline, validated before any work starts.

Errors are collected by pydantic and reported all at once, each with its dotted key, so a typo'd
key, a negative learning rate or an unknown task stops ``dvc repro`` with one readable message.
Validation imports no torch: `prefixes check-params` answers in a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field, PositiveInt, ValidationError, field_validator, model_validator

from pipeline.layout import RAW_DATA_DIR
from pipeline.overrides import TaskTrainingOverrides, TrainingOverrides, set_values
from prefixes.config import PrefixConfig, PromptConfig, StrictModel, TrainingConfig
from prefixes.data.sources import FILE_SUFFIXES
from prefixes.names import NAME_PATTERN, is_valid_name

TaskFormat = Literal["classification", "causal_generation", "seq2seq_generation", "extractive_qa"]
TASK_TYPE_BY_FORMAT = {
    "classification": "text_classification",
    "causal_generation": "text_generation",
    "seq2seq_generation": "seq2seq_generation",
    "extractive_qa": "question_answering",
}


class TaskConfig(StrictModel):
    """One task of the pipeline."""

    source: str = Field(description="Packaged dataset name, local file, or hub dataset id.")
    columns: dict[str, str] | None = Field(default=None, description="Example field -> file column, for files.")
    format: TaskFormat
    model: str = Field(description="Key into `models`: the frozen base model this task's prefixes sit on.")
    max_length: int = Field(default=128, ge=8, description="Tokens per example, virtual tokens excluded.")
    max_target_length: int | None = Field(default=None, ge=1, description="Generation: tokens kept of the target.")
    template: str | None = Field(default=None, description="Generation: prompt template with one {source} slot.")
    eval_fraction: float = Field(default=0.1, gt=0, lt=1)
    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    max_examples: dict[Literal["train", "eval", "test"], PositiveInt] | None = Field(
        default=None, description="Caps per split (after the split), e.g. {train: 800}."
    )

    @model_validator(mode="after")
    def _local_files_are_tracked(self) -> TaskConfig:
        path = Path(self.source)
        if path.suffix.lower() not in FILE_SUFFIXES and not path.exists():
            return self  # a packaged corpus or a hub dataset id
        if path.is_absolute() or not path.resolve().is_relative_to(Path(RAW_DATA_DIR).resolve()):
            raise ValueError(
                f"source {self.source!r} is a local file outside {RAW_DATA_DIR}/: move it there and name it "
                f"as {RAW_DATA_DIR}/<file>, so DVC tracks it as a dependency of the prepare stage"
            )
        return self

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> TaskConfig:
        if self.eval_fraction + self.test_fraction >= 0.9:
            raise ValueError(
                f"eval_fraction + test_fraction = {self.eval_fraction + self.test_fraction:.2f} leaves "
                "under 10% for training: lower them"
            )
        return self


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
    training: TrainingOverrides = Field(default_factory=TrainingOverrides, description="Overrides of the shared `training` section.")


class BaselineSettings(StrictModel):
    """Reference points measured through the same training loop."""

    tasks: list[str] = Field(default_factory=list, description="Tasks that also train the baselines.")
    methods: list[BaselineName] = Field(default_factory=lambda: ["full_finetune", "lora"])
    lora_r: int = Field(default=8, ge=1)
    lora_alpha: int = Field(default=16, ge=1)
    training: dict[BaselineName, TrainingOverrides] = Field(default_factory=dict, description="Per-baseline overrides.")


class EvaluateSettings(StrictModel):
    generation_examples: int = Field(default=24, ge=1, description="Test examples generated for BLEU/ROUGE-L.")
    max_new_tokens: int = Field(default=24, ge=1)


class BundleSettings(StrictModel):
    publish: bool = Field(default=False, description="Publish the bundle members into the registry.")
    registry: str = Field(default="registry", description="Registry directory to publish into.")


class Params(StrictModel):
    """The whole of params.yaml."""

    seed: int = Field(default=42, ge=0, le=2**32 - 1, description="Seeds splits, initialisation and training.")
    models: dict[str, Annotated[str, Field(min_length=1)]] = Field(
        description="Base model key -> hub id, local folder or embedded short name."
    )
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
    task_training: dict[str, TaskTrainingOverrides] = Field(
        default_factory=dict,
        description="Per-task training overrides; a `methods: {method: {...}}` entry narrows them to one method.",
    )
    baselines: BaselineSettings = Field(default_factory=BaselineSettings)
    evaluate: EvaluateSettings = Field(default_factory=EvaluateSettings)
    bundle: BundleSettings = Field(default_factory=BundleSettings)

    @field_validator("task_names")
    @classmethod
    def _task_names_are_unique(cls, names: list[str]) -> list[str]:
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"{repeated} listed more than once: list each task once")
        return names

    @field_validator("tasks")
    @classmethod
    def _task_names_fit_the_registry(cls, tasks: dict[str, TaskConfig]) -> dict[str, TaskConfig]:
        refused = [name for name in tasks if not is_valid_name(name)]
        if refused:
            raise ValueError(f"task names {refused} would be refused by the registry when publishing: "
                             f"rename them to match {NAME_PATTERN} (lowercase letters, digits, '_', '.', '-')")
        return tasks

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
        for task, overrides in self.task_training.items():
            for method in overrides.methods:
                if method not in self.methods and method not in self.baselines.methods:
                    problems.append(f"task_training.{task}.methods.{method}: unknown method; "
                                    f"methods are {sorted([*self.methods, *self.baselines.methods])}")
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
        if method in self.methods:
            own = self.methods[method].training
        else:
            own = self.baselines.training.get(method)
        task_overrides = self.task_training.get(task)
        narrowed = task_overrides.methods.get(method) if task_overrides else None
        merged = self.training.model_dump(exclude_unset=True)
        for layer in (own, task_overrides, narrowed):
            merged |= set_values(layer)
        return TrainingConfig.model_validate(merged)


def name_problems(data: dict) -> list[str]:
    """Names that must refer to defined tasks and models. Works on raw, possibly invalid params
    too, so these problems are reported together with field errors, not after they are fixed."""
    def section(owner: dict, key: str, kind: type):
        value = owner.get(key) if isinstance(owner, dict) else None
        return value if isinstance(value, kind) else kind()

    tasks, models, baselines = section(data, "tasks", dict), section(data, "models", dict), section(data, "baselines", dict)
    problems = []
    for key, names in (("task_names", section(data, "task_names", list)), ("baselines.tasks", section(baselines, "tasks", list))):
        for name in names:
            if isinstance(name, str) and name not in tasks:
                problems.append(f"{key}: unknown task {name!r}; defined tasks are {sorted(tasks)}")
    for name, task in tasks.items():
        model = task.get("model") if isinstance(task, dict) else None
        if isinstance(model, str) and model not in models:
            problems.append(f"tasks.{name}.model: unknown model {model!r}; defined models are {sorted(models)}")
    for name in section(data, "task_training", dict):
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
