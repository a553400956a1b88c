"""The small sections of params.yaml: baselines, evaluation, publishing and how DVC launches training.

Each refuses at `check-params` time what would otherwise fail only after hours of training (an
alias the registry refuses) or what should never run (a shell pipeline in the launch command).
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from pipeline.methods import kind_problems
from prefixes.names import NAME_PATTERN, is_valid_name
from prefixes.strict import StrictModel

# The registry reads `vN` (any digits) as a version, so such an alias could never be looked up.
_VERSION_LIKE = re.compile(r"v[0-9]+")
# A launch command is plain words: DVC runs `${launch.train} train-prefix ...` through a shell, where
# `|`, `;`, `&`, `$(`, backticks, quotes, redirections or a newline would start other commands.
_LAUNCH_CHARACTERS = re.compile(r"[A-Za-z0-9_./=:@%+,\- ]")
_LAUNCH = re.compile(r"prefixes|(?:[A-Za-z0-9_./=:@%+,\-]+ +)+-m +pipeline")
MAX_TOKENS = 1_048_576


class BaselineSettings(StrictModel):
    """Reference points measured through the same training loop (methods of kind "baseline")."""

    tasks: list[str] = Field(default_factory=list, description="Tasks that also train the baselines.")
    methods: list[str] = Field(default_factory=list, description="Baseline methods, e.g. full fine-tuning, LoRA.")

    @field_validator("methods")
    @classmethod
    def _baseline_methods(cls, names: list[str]) -> list[str]:
        problems = kind_problems(names, "baseline")
        if problems:
            raise ValueError("; ".join(problems))
        return names


class EvaluateSettings(StrictModel):
    generation_examples: int | None = Field(
        default=None, ge=1, le=1_000_000,
        description="Test sources generated for BLEU, chrF and ROUGE; unset: every source of the test split.")
    max_new_tokens: int = Field(default=24, ge=1, le=MAX_TOKENS)
    num_beams: int = Field(default=1, ge=1, le=64, description="1: greedy search; more: beam search with that many beams.")


class PublishSettings(StrictModel):
    """What the publish stage does with the trained prefixes (never inside `dvc exp run`)."""

    enabled: bool = Field(default=True, description="File every prefix/prompt run in the registry.")
    registry: str = Field(default="registry", description="Registry directory to publish into.")
    alias: str = Field(default="candidate", description="Alias moved to each newly published version.")

    @field_validator("alias")
    @classmethod
    def _an_alias_the_registry_accepts(cls, alias: str) -> str:
        if alias in ("production", "latest"):
            raise ValueError(f"{alias!r}: the pipeline moves a candidate alias; promote to production by hand "
                             "with `prefixes registry promote`")
        if not is_valid_name(alias) or _VERSION_LIKE.fullmatch(alias):
            raise ValueError(f"{alias!r} is not an alias the registry accepts (it would fail at publish, after "
                             f"training): use a word matching {NAME_PATTERN} without '..' and not like 'v3', "
                             "e.g. 'candidate'")
        return alias


class LaunchSettings(StrictModel):
    """How DVC starts the train stages (dvc.yaml's `${launch.train}`)."""

    train: str = Field(
        default="prefixes",
        description="'prefixes' (one process) or a launcher of plain words that runs `-m pipeline`, e.g. "
        "'accelerate launch --config_file accelerate/multi_gpu.yaml -m pipeline'.",
    )

    @field_validator("train")
    @classmethod
    def _plain_launcher(cls, command: str) -> str:
        shell = next((char for char in command if not _LAUNCH_CHARACTERS.fullmatch(char)), None)
        if shell is not None:
            raise ValueError(f"holds {shell!r}, which the shell DVC runs the stage in would interpret: write plain "
                             "words (letters, digits, spaces and _ . / = : @ % + , -), e.g. "
                             "'accelerate launch --config_file accelerate/multi_gpu.yaml -m pipeline'")
        if not _LAUNCH.fullmatch(command):
            raise ValueError("must be 'prefixes' or a launcher that ends in '-m pipeline', e.g. "
                             "'accelerate launch --config_file accelerate/multi_gpu.yaml -m pipeline'")
        return command
