"""`prefixes`: the command-line entry point (also `python -m pipeline`)."""

from __future__ import annotations

import click

from pipeline.compare_cli import compare
from pipeline.bundle_cli import multi_task_bundle
from pipeline.predict_cli import predict
from pipeline.registry_cli import registry
from pipeline.stages import check_params, evaluate, prepare, train_baseline, train_prefix, train_prompt


@click.group()
@click.version_option(package_name="prefixes")
def main() -> None:
    """Prefix tuning, prompt tuning and P-tuning v2 over frozen transformers models."""


for command in (prepare, train_prefix, train_prompt, train_baseline, evaluate, compare, multi_task_bundle,
                registry, predict, check_params):
    main.add_command(command)
