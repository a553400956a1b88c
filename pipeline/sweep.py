"""Recipe sweeps as DVC experiments: `prefixes sweep queue` files one `dvc exp run --queue` per run
and variant of a sweep in `sweeps.yaml`; `dvc exp run --run-all` runs them; `prefixes sweep report`
tabulates each experiment's eval-split scores (the checkpoint its run picked), never the test split's.

An experiment is named `<sweep>-<variant>-<task>-<method>`, so the report finds it again, and its
`train.json` is read from the experiment's own commit, where DVC keeps uncached outputs.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import click
import yaml
from pydantic import Field

from pipeline.layout import TRAIN_SUMMARY, train_stage
from prefixes.strict import StrictModel

LOWER_IS_BETTER = ("loss", "perplexity")


class Sweep(StrictModel):
    """One sweep: the runs it retrains, the params overrides of each variant, the score that judges."""

    runs: list[str] = Field(min_length=1, description="`<task>/<method>` runs of the pipeline to retrain.")
    select: str = Field(description="The eval-split score that judges variants, e.g. eval_macro_f1.")
    variants: dict[str, dict[str, str | int | float | bool]] = Field(
        min_length=1, description="Variant name -> params overrides (`dvc exp run -S key=value`).")


def load_sweep(path: str | Path, name: str) -> Sweep:
    """Sweep ``name`` of the sweeps file; its runs must be `<task>/<method>`."""
    sweeps = yaml.safe_load(Path(path).read_text()) or {}
    if name not in sweeps:
        raise click.ClickException(f"sweep {name!r} is not in {path}; it defines {sorted(sweeps)}")
    sweep = Sweep.model_validate(sweeps[name])
    malformed = [run for run in sweep.runs if len(run.split("/")) != 2]
    if malformed:
        raise click.ClickException(f"{path}: {name}.runs {malformed}: write each run as <task>/<method>")
    return sweep


def experiment_name(sweep: str, variant: str, run: str) -> str:
    return f"{sweep}-{variant}-{run.replace('/', '-')}"


def queue_commands(name: str, sweep: Sweep) -> list[list[str]]:
    """One `dvc exp run --queue` per (variant, run); `--force` replaces an earlier one of that name."""
    commands = []
    for variant, overrides in sweep.variants.items():
        # `++`: set the key whether or not params.yaml has it yet (hydra override grammar).
        settings = [arg for key, value in overrides.items() for arg in ("-S", f"++{key}={_yaml_value(value)}")]
        for run in sweep.runs:
            task, method = run.split("/")
            commands.append(["dvc", "exp", "run", "--queue", "--force", "-n", experiment_name(name, variant, run),
                             *settings, train_stage(task, method)])
    return commands


def _yaml_value(value: str | int | float | bool) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


def experiment_revisions() -> dict[str, str]:
    """Experiment name -> commit, for every experiment DVC lists."""
    shown = json.loads(subprocess.run(["dvc", "exp", "show", "--json"], check=True, capture_output=True,
                                      text=True).stdout)
    return {rev["name"]: rev["rev"] for baseline in shown for experiment in baseline.get("experiments") or []
            for rev in experiment.get("revs") or [] if rev.get("name")}


def run_summary(revision: str, artifacts_dir: str, run: str) -> dict:
    """The run's train.json as the experiment committed it."""
    path = f"{artifacts_dir}/{run}/{TRAIN_SUMMARY}"
    shown = subprocess.run(["git", "show", f"{revision}:{path}"], check=True, capture_output=True, text=True)
    return json.loads(shown.stdout)


def report_rows(name: str, sweep: Sweep, revisions: dict[str, str], artifacts_dir: str) -> list[dict]:
    """Per run and variant: its eval scores, and whether it is the run's best variant by `select`."""
    rows = []
    for run in sweep.runs:
        found = [(variant, revisions[experiment_name(name, variant, run)]) for variant in sweep.variants
                 if experiment_name(name, variant, run) in revisions]
        scored = []
        for variant, revision in found:
            summary = run_summary(revision, artifacts_dir, run)
            best = {key: value for key, value in (summary.get("best_eval") or {}).items() if key != "eval_examples"}
            scored.append({"run": run, "variant": variant, "steps": summary["global_step"],
                           "best_step": summary["best_step"], **best})
        rank = [row for row in scored if row.get(sweep.select) is not None]
        if rank:
            pick = min if sweep.select.endswith(LOWER_IS_BETTER) else max
            pick(rank, key=lambda row: row[sweep.select])["chosen"] = True
        rows += scored
    return rows


def markdown(name: str, sweep: Sweep, rows: list[dict]) -> str:
    scores = sorted({key for row in rows for key in row if key.startswith("eval_")})
    lines = [f"## Sweep `{name}`: judged by {sweep.select} on the eval split", "",
             "| variant | overrides |", "|---|---|"]
    lines += [f"| {variant} | {', '.join(f'`{k}={v}`' for k, v in overrides.items()) or 'params.yaml as is'} |"
              for variant, overrides in sweep.variants.items()]
    lines += ["", "| run | variant | " + " | ".join(scores) + " | best step / steps | chosen |",
              "|---|---|" + "---|" * (len(scores) + 2)]
    for row in rows:
        values = " | ".join(f"{row[key]:.4g}" if key in row else "" for key in scores)
        lines.append(f"| {row['run']} | {row['variant']} | {values} | {row['best_step']} / {row['steps']} | "
                     f"{'yes' if row.get('chosen') else ''} |")
    return "\n".join(lines) + "\n"


@click.group("sweep")
def sweep() -> None:
    """Recipe sweeps as DVC experiments (sweeps.yaml), judged on the eval split."""


@sweep.command("queue")
@click.argument("name")
@click.option("--sweeps", "sweeps_path", default="sweeps.yaml", show_default=True, type=click.Path(dir_okay=False))
def queue(name: str, sweeps_path: str) -> None:
    """Queue every run x variant of sweep NAME; then `dvc exp run --run-all` runs them."""
    for command in queue_commands(name, load_sweep(sweeps_path, name)):
        click.echo(" ".join(command))
        subprocess.run(command, check=True)


@sweep.command("report")
@click.argument("name")
@click.option("--sweeps", "sweeps_path", default="sweeps.yaml", show_default=True, type=click.Path(dir_okay=False))
@click.option("--artifacts-dir", default="artifacts", show_default=True, help="Where the train stages write runs.")
@click.option("--out", "output_dir", default="reports/sweeps", show_default=True, type=click.Path(file_okay=False))
def report(name: str, sweeps_path: str, artifacts_dir: str, output_dir: str) -> None:
    """Write reports/sweeps/NAME.md and .json from the sweep's finished experiments."""
    sweep = load_sweep(sweeps_path, name)
    rows = report_rows(name, sweep, experiment_revisions(), artifacts_dir)
    if not rows:
        raise click.ClickException(f"no finished experiment of sweep {name!r}: queue it, then `dvc exp run --run-all`")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n")
    (out / f"{name}.md").write_text(markdown(name, sweep, rows))
    click.echo((out / f"{name}.md").read_text())
