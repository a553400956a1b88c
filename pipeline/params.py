"""The schema of ``params.yaml``: every knob of the pipeline, validated before any work starts.

Errors are collected by pydantic and reported all at once, each with its dotted key, so a typo'd
key, a negative learning rate or an unknown task stops ``dvc repro`` with one readable message.
Validation imports no torch: `prefixes check-params` answers in a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, cast

from pydantic import Field, PositiveInt, ValidationError, ValidationInfo, field_validator, model_validator

from pipeline.layout import RAW_DATA_DIR
from pipeline.methods import MethodSettings, config_problems, kind_problems, method_config, task_config_problems
from pipeline.overrides import TaskTrainingOverrides, set_values
from pipeline.params_checks import model_id_problems, name_problems
from pipeline.params_sections import MAX_TOKENS, BaselineSettings, EvaluateSettings, LaunchSettings, PublishSettings
from pipeline.yaml12 import YamlError, load_yaml
from prefixes.config import TaskType, TrainingConfig
from prefixes.data.example import FIELDS
from prefixes.data.generation import SOURCE_SLOT
from prefixes.data.sources import FILE_SUFFIXES, PACKAGED_SOURCES
from prefixes.methods.registry import ArtifactKind
from prefixes.names import NAME_PATTERN, is_valid_name
from prefixes.strict import StrictModel

TaskFormat = Literal["classification", "causal_generation", "seq2seq_generation", "extractive_qa", "multiple_choice"]
TASK_TYPE_BY_FORMAT: dict[str, TaskType] = {
    "classification": "text_classification",
    "causal_generation": "text_generation",
    "seq2seq_generation": "seq2seq_generation",
    "extractive_qa": "question_answering",
    "multiple_choice": "multiple_choice",
}
PIPELINE_TRACKERS = ["dvclive"]
"""A run's trackers where params.yaml sets no `report_to`: dvc.yaml declares DVCLive's files as its metrics and plots."""
LABELLED_FORMATS = ("classification", "multiple_choice")
"""Formats whose prepared data records label names (class names, or the names of the choices)."""


class TaskConfig(StrictModel):
    """One task of the pipeline."""

    source: str = Field(description="Packaged dataset name, local file or dataset folder, or hub dataset id.")
    dataset_config: str | None = Field(default=None, description="Hub dataset configuration, e.g. '3.0.0', 'de-en'.")
    split: str | None = Field(default=None, description="Hub split to read (default train; drug_reviews: train or "
                              "test); the pipeline makes its own train/eval/test from it.")
    columns: dict[str, str] | None = Field(
        default=None, description="Example field -> column of a file or hub dataset; dotted for nested: translation.de.",
    )
    format: TaskFormat
    model: str = Field(description="Key into `models`: the frozen base model this task's prefixes sit on.")
    max_length: int = Field(default=128, ge=8, le=MAX_TOKENS,
                            description="Tokens per example, virtual tokens excluded.")
    max_target_length: int | None = Field(default=None, ge=1, le=MAX_TOKENS,
                                          description="Generation: tokens kept of the target.")
    template: str | None = Field(default=None, description="Generation: prompt template with one {source} slot.")
    eval_fraction: float = Field(default=0.1, gt=0, lt=1)
    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    max_examples: dict[Literal["train", "eval", "test"], PositiveInt] | None = Field(
        default=None,
        description="Caps per split (after the split), in sources, e.g. {train: 800}; a source keeps all its targets.",
    )
    max_truncated_fraction: float = Field(
        default=0.5, ge=0, le=1,
        description="Prepare refuses a split with a larger share of truncated examples (or prompts); 1 accepts any.",
    )
    normalize_labels: bool = Field(
        default=False,
        description="Classification: strip surrounding whitespace and case-fold every label before splitting, so "
                    "' Billing', 'billing' and 'BILLING' are one class (prepare warns about such labels either way).",
    )

    @field_validator("columns")
    @classmethod
    def _columns_name_example_fields(cls, columns: dict[str, str] | None) -> dict[str, str] | None:
        unknown = sorted(set(columns or {}) - set(FIELDS))
        if unknown:
            raise ValueError(f"{unknown} are not example fields: map each of {list(FIELDS)} that the data has "
                             "under another name to its column, e.g. {text: message, label: queue}")
        return columns

    @field_validator("template")
    @classmethod
    def _one_source_slot(cls, template: str | None) -> str | None:
        if template is not None and template.count(SOURCE_SLOT) != 1:
            raise ValueError(f"holds {SOURCE_SLOT} {template.count(SOURCE_SLOT)} times: write it exactly once, where "
                             "the example's source text goes, e.g. 'User: {source}\\nAssistant: '")
        return template

    @model_validator(mode="after")
    def _local_files_are_tracked(self) -> TaskConfig:
        path = Path(self.source)
        if self.dataset_config and (self.source in PACKAGED_SOURCES or path.suffix.lower() in FILE_SUFFIXES):
            raise ValueError(f"dataset_config={self.dataset_config!r} for source {self.source!r}, a packaged corpus "
                             "or a file: configurations belong to hub datasets; drop dataset_config")
        if path.suffix.lower() not in FILE_SUFFIXES and not path.exists():
            return self  # a packaged corpus or a hub dataset id
        if path.is_absolute() or not path.resolve().is_relative_to(Path(RAW_DATA_DIR).resolve()):
            raise ValueError(
                f"source {self.source!r} is a local file outside {RAW_DATA_DIR}/: move it there and name it "
                f"as {RAW_DATA_DIR}/<file>, so DVC tracks it as a dependency of the prepare stage"
            )
        return self

    @model_validator(mode="after")
    def _normalising_needs_class_labels(self) -> TaskConfig:
        if self.normalize_labels and self.format != "classification":
            raise ValueError(f"normalize_labels applies to class labels; format {self.format!r} has none: remove it")
        return self

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> TaskConfig:
        if self.eval_fraction + self.test_fraction >= 0.9:
            raise ValueError(
                f"eval_fraction + test_fraction = {self.eval_fraction + self.test_fraction:.2f} leaves "
                "under 10% for training: lower them"
            )
        return self


class Params(StrictModel):
    """The whole of params.yaml."""

    launch: LaunchSettings = Field(default_factory=LaunchSettings)
    seed: int = Field(default=42, ge=0, le=2**32 - 1, description="Seeds splits, initialisation and training.")
    models: dict[str, Annotated[str, Field(min_length=1)]] = Field(
        description="Base model key -> hub id, local folder or embedded short name."
    )
    tasks: dict[str, TaskConfig]
    task_names: list[str] = Field(description="Tasks the pipeline runs (the DVC matrix reads this list).")
    prefix_methods: list[str] = Field(description="Methods of kind 'prefix' (the train-prefix stage's matrix).")
    prompt_methods: list[str] = Field(description="Methods of kind 'prompt' (the train-prompt stage's matrix).")
    evaluated_methods: list[str] = Field(
        description="prefix_methods + prompt_methods, spelled out for the evaluate stage's DVC matrix.",
    )
    methods: dict[str, MethodSettings] = Field(
        default_factory=dict, description="Per method: config fields and training overrides."
    )
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    task_training: dict[str, TaskTrainingOverrides] = Field(
        default_factory=dict,
        description="Per-task training overrides; a `methods: {method: {...}}` entry narrows them to one method.",
    )
    task_method_config: dict[str, dict[str, dict[str, Any]]] = Field(
        default_factory=dict,
        description="Per task, per method: config fields that replace `methods.<method>.config` on that task "
        "only, e.g. `chitchat: {prefix: {prefix_length: 32}}`.",
    )
    baselines: BaselineSettings = Field(default_factory=BaselineSettings)
    evaluate: EvaluateSettings = Field(default_factory=EvaluateSettings)
    publish: PublishSettings = Field(default_factory=PublishSettings)

    @field_validator("prefix_methods", "prompt_methods")
    @classmethod
    def _methods_of_their_kind(cls, names: list[str], info: ValidationInfo) -> list[str]:
        problems = kind_problems(names, cast(ArtifactKind, cast(str, info.field_name).split("_")[0]))
        if problems:
            raise ValueError("; ".join(problems))
        return names

    @field_validator("methods")
    @classmethod
    def _method_configs_validate(cls, methods: dict[str, MethodSettings]) -> dict[str, MethodSettings]:
        problems = config_problems(methods)
        if problems:  # one line per problem, each naming its key under `methods`
            raise ValueError("; ".join(problems))
        return methods

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
        if sorted(self.evaluated_methods) != sorted([*self.prefix_methods, *self.prompt_methods]):
            problems.append(
                f"evaluated_methods: {self.evaluated_methods} must list exactly prefix_methods + prompt_methods "
                f"({[*self.prefix_methods, *self.prompt_methods]})"
            )
        problems += self._shadowed_shared_settings() + self._runs_without_dvclive()
        problems += task_config_problems(self.methods, self.task_method_config, self.all_methods())
        for task, overrides in self.task_training.items():
            for method in overrides.methods:
                if method not in self.all_methods():
                    problems.append(f"task_training.{task}.methods.{method}: unknown method; "
                                    f"the runs use {self.all_methods()}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _shadowed_shared_settings(self) -> list[str]:
        """A shared training setting that every run's method overrides would never be used."""
        runs, problems = self.all_methods(), []
        for key in sorted(self.training.model_fields_set):
            owners = [m for m in runs if m in self.methods and key in set_values(self.methods[m].training)]
            if runs and len(owners) == len(runs):
                problems.append(f"training.{key}: every method sets its own value, so this one is never used; "
                                f"change {', '.join(f'methods.{m}.training.{key}' for m in owners)} instead")
        return problems

    def _runs_without_dvclive(self) -> list[str]:
        """dvc.yaml declares DVCLive's files as every train stage's metrics and plots, so each run writes them."""
        places = {"training": self.training.report_to if "report_to" in self.training.model_fields_set else None}
        places |= {f"methods.{m}.training": set_values(own.training).get("report_to") for m, own in self.methods.items()}
        for task, overrides in self.task_training.items():
            places[f"task_training.{task}"] = set_values(overrides).get("report_to")
            places |= {f"task_training.{task}.methods.{m}": set_values(narrowed).get("report_to")
                       for m, narrowed in overrides.methods.items()}
        return [f"{key}.report_to: {value} leaves out dvclive, whose files dvc.yaml declares as every train stage's "
                "metrics and plots: keep dvclive and add the others, e.g. [dvclive, tensorboard]"
                for key, value in places.items() if value is not None and "dvclive" not in value]

    def all_methods(self) -> list[str]:
        return [*self.evaluated_methods, *self.baselines.methods]

    def method_config(self, task: str, method: str, label_names: list[str] | None):
        """The method's config on a task with these label names (None for tasks without labels)."""
        return method_config(self.methods, method, label_names, self.task_method_config.get(task, {}).get(method))

    def run_seed(self, task: str, method: str) -> int:
        """The seed of one training run: a `seed` set in `training`, `methods.<method>.training` or
        `task_training` (e.g. to measure seed variance), else the top-level `seed`, which also splits the data."""
        config = self.training_config(task, method)
        return config.seed if "seed" in config.model_fields_set else self.seed

    def training_config(self, task: str, method: str) -> TrainingConfig:
        """Shared training settings, then the method's overrides, then the task's, then the task's for this method."""
        own = self.methods[method].training if method in self.methods else None
        task_overrides = self.task_training.get(task)
        narrowed = task_overrides.methods.get(method) if task_overrides else None
        merged = {"report_to": PIPELINE_TRACKERS} | self.training.model_dump(exclude_unset=True)
        for layer in (own, task_overrides, narrowed):
            merged |= set_values(layer)
        return TrainingConfig.model_validate(merged)


class ParamsError(ValueError):
    """params.yaml is unusable; the message lists every problem with its key."""


def validate_params(raw: object) -> Params:
    """Params from parsed YAML, in strict mode: `"128"` is no integer and `true` no batch size, as
    nowhere in params.yaml does a quoted number or a boolean stand for a count."""
    return Params.model_validate(raw, strict=True)


def load_params(path: str | Path = "params.yaml") -> Params:
    """The validated params file; ParamsError lists every problem, each with its dotted key."""
    path = Path(path)
    try:
        raw = load_yaml(path.read_text())
    except (OSError, YamlError) as error:
        raise ParamsError(f"cannot read {path}: {error}") from error
    lines, params = [], None
    try:
        params = validate_params(raw)
    except ValidationError as error:
        for problem in error.errors():
            if problem["loc"]:
                message = problem["msg"].removeprefix("Value error, ")
                lines.append(f"  {'.'.join(map(str, problem['loc']))}: {message} (got {problem.get('input')!r:.80})")
            else:  # cross-field checks: their message names the keys
                lines.append(f"  {problem['msg'].removeprefix('Value error, ')}")
        if isinstance(raw, dict):
            lines += [f"  {problem}" for problem in name_problems(raw) if not any(problem in line for line in lines)]
    if isinstance(raw, dict):
        lines += [f"  {problem}" for problem in model_id_problems(raw)]
    if params is None or lines:
        raise ParamsError(f"{path} has {len(lines)} problem(s):\n" + "\n".join(lines))
    return params
