"""Recipe sweeps as DVC experiments: `prefixes sweep queue` files one `dvc exp run --queue` per run
and variant of a sweep in `sweeps.yaml`; a queue worker (`dvc queue start`) runs them; `prefixes sweep report`
tabulates each experiment's eval-split scores (the checkpoint its run picked), never the test split's.

An experiment is named `<sweep>-<variant>-<task>-<method>`, so the report finds it again, and its
`train.json` is read from the experiment's own commit, where DVC keeps uncached outputs.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path

import click
from pydantic import Field, ValidationError

from pipeline.common import load_or_exit, params_option
from pipeline.layout import TRAIN_SUMMARY, train_stage
from pipeline.params import validate_params
from pipeline.yaml12 import load_yaml
from prefixes.config import greater_is_better
from prefixes.strict import StrictModel

NAME_PATTERN = r"[A-Za-z0-9_]+"  # no "-": it joins the parts of an experiment's name
COUNTS = ("eval_examples", "eval_tokens", "eval_windows")
sweeps_option = click.option("--sweeps", "sweeps_path", default="sweeps.yaml", show_default=True,
                             type=click.Path(exists=True, dir_okay=False), help="The sweeps file.")


class Sweep(StrictModel):
    """One sweep: the runs it retrains, the params overrides of each variant, the score that judges."""

    runs: list[str] = Field(min_length=1, description="`<task>/<method>` runs of the pipeline to retrain.")
    select: str = Field(description="The eval-split score that judges variants, e.g. eval_macro_f1.")
    variants: dict[str, dict[str, str | int | float | bool]] = Field(
        min_length=1, description="Variant name -> params overrides (`dvc exp run -S key=value`).")


def load_sweep(path: str | Path, name: str, params_path: str | Path) -> Sweep:
    """Sweep ``name`` of the sweeps file, checked against the params file: its runs are stages of
    the pipeline and every variant's overrides give valid params."""
    params = load_or_exit(str(params_path))
    sweeps = load_yaml(Path(path).read_text()) or {}
    if name not in sweeps:
        raise click.ClickException(f"sweep {name!r} is not in {path}; it defines {sorted(sweeps)}")
    try:
        sweep = Sweep.model_validate(sweeps[name])
    except ValidationError as error:
        raise click.ClickException(f"{path}: sweep {name!r}: {error}") from None
    defined = {f"{task}/{method}" for task in params.task_names for method in params.evaluated_methods}
    defined |= {f"{task}/{method}" for task in params.baselines.tasks for method in params.baselines.methods}
    badly_named = [part for part in (name, *sweep.variants) if not re.fullmatch(NAME_PATTERN, part)]
    if badly_named:
        raise click.ClickException(f"{path}: sweep and variant names {badly_named} may hold only letters, digits and _")
    unknown = [run for run in sweep.runs if run not in defined]
    if unknown:
        raise click.ClickException(f"{path}: sweep {name!r} runs {unknown} are not runs params.yaml defines; "
                                   f"write each as <task>/<method> among {sorted(defined)}")
    raw = load_yaml(Path(params_path).read_text())
    for variant, overrides in sweep.variants.items():
        _check_overrides(raw, overrides, f"{path}: sweep {name!r} variant {variant!r}")
    return sweep


def _check_overrides(raw_params: dict, overrides: dict, where: str) -> None:
    """Apply the overrides to a copy of params and validate it, so a typo fails before any queueing."""
    data = copy.deepcopy(raw_params)
    for key, value in overrides.items():
        *parents, leaf = key.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise click.ClickException(f"{where}: {key} reaches into {part!r}, which is not a section")
        node[leaf] = value
    try:
        validate_params(data)
    except (ValidationError, ValueError) as error:
        raise click.ClickException(f"{where}: its overrides {overrides} give invalid params: {error}") from None


def experiment_name(sweep: str, variant: str, run: str) -> str:
    return f"{sweep}-{variant}-{run.replace('/', '-')}"


def queue_commands(name: str, sweep: Sweep) -> list[list[str]]:
    """One `dvc exp run --queue` per (variant, run). `--force` replaces an experiment of the same
    name and reruns the run's upstream stages too (prepare: seconds)."""
    commands = []
    for variant, overrides in sweep.variants.items():
        # `++`: set the key whether or not params.yaml has it yet (hydra override grammar).
        settings = [arg for key, value in overrides.items() for arg in ("-S", f"++{key}={override_literal(value)}")]
        for run in sweep.runs:
            task, method = run.split("/")
            commands.append(["dvc", "exp", "run", "--queue", "--force", "-n", experiment_name(name, variant, run),
                             *settings, train_stage(task, method)])
    return commands


# In a quoted hydra value a run of backslashes is literal, except before a quote, before `${` or at
# the end, where each pair stands for one backslash and an odd one escapes what follows.
_ESCAPED = re.compile(r"(\\*)('|\$\{|\Z)")


def override_literal(value: str | int | float | bool) -> str:
    """``value`` in hydra's override grammar, so that DVC writes it into params.yaml as it is: strings
    quoted (`,` `[` `{` and `null` stay text), with `${...}` escaped (DVC would resolve it, e.g.
    `${oc.env:VAR}` to the variable's value) and backslashes doubled only where hydra halves them."""
    if isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, str):
        escaped = _ESCAPED.sub(lambda match: match[1] * 2 + ("\\" + match[2] if match[2] else ""), value)
        return f"'{escaped}'"
    return repr(value)


def finished_experiments() -> tuple[dict[str, str], list[str]]:
    """(name -> commit of every finished experiment of HEAD, names still queued, running or failed)."""
    shown = json.loads(subprocess.run(["dvc", "exp", "show", "--json"], check=True, capture_output=True,
                                      text=True).stdout)
    finished, unfinished = {}, []
    for baseline in shown:
        for experiment in baseline.get("experiments") or []:
            state = (experiment.get("executor") or {}).get("state")
            for rev in experiment.get("revs") or []:
                if rev.get("name") and state in (None, "success"):
                    finished[rev["name"]] = rev["rev"]
                elif rev.get("name"):
                    unfinished.append(f"{rev['name']} ({state})")
    return finished, unfinished


def run_summary(revision: str, artifacts_dir: str, run: str) -> dict:
    """The run's train.json as the experiment committed it."""
    path = f"{artifacts_dir}/{run}/{TRAIN_SUMMARY}"
    shown = subprocess.run(["git", "show", f"{revision}:{path}"], check=True, capture_output=True, text=True)
    return json.loads(shown.stdout)


def report_rows(name: str, sweep: Sweep, finished: dict[str, str], artifacts_dir: str) -> list[dict]:
    """Per run and finished variant: its eval scores, and whether it is the run's best by `select`."""
    rows = []
    for run in sweep.runs:
        scored = []
        for variant in sweep.variants:
            revision = finished.get(experiment_name(name, variant, run))
            if revision is None:
                continue
            summary = run_summary(revision, artifacts_dir, run)
            best = {key: value for key, value in (summary.get("best_eval") or {}).items() if key not in COUNTS}
            if sweep.select not in best:
                raise click.ClickException(f"select={sweep.select!r} is not among {run}'s eval scores {sorted(best)}: "
                                           f"fix sweeps.yaml {name}.select")
            scored.append({"run": run, "variant": variant, "steps": summary["global_step"],
                           "best_step": summary["best_step"], **best})
        if scored:
            pick = max if greater_is_better(sweep.select) else min
            pick(scored, key=lambda row: row[sweep.select])["chosen"] = True
        rows += scored
    return rows


def markdown_report(name: str, sweep: Sweep, rows: list[dict], unfinished: list[str]) -> str:
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
    if unfinished:
        lines += ["", f"Not finished (queued, running or failed): {', '.join(sorted(unfinished))}."]
    return "\n".join(lines) + "\n"


@click.group("sweep")
def sweep() -> None:
    """Recipe sweeps as DVC experiments (sweeps.yaml), judged on the eval split."""


@sweep.command("queue")
@click.argument("name")
@sweeps_option
@params_option
def queue(name: str, sweeps_path: str, params_path: str) -> None:
    """Queue every run x variant of sweep NAME; then `dvc queue start` (or `bash dev.sh sweep`) runs them."""
    for command in queue_commands(name, load_sweep(sweeps_path, name, params_path)):
        click.echo(" ".join(command))
        subprocess.run(command, check=True)


@sweep.command("report")
@click.argument("name")
@sweeps_option
@params_option
@click.option("--artifacts-dir", default="artifacts", show_default=True, help="Where the train stages write runs.")
@click.option("--out", "output_dir", default="reports/sweeps", show_default=True, type=click.Path(file_okay=False),
              help="Folder of the sweep's report.")
def report(name: str, sweeps_path: str, params_path: str, artifacts_dir: str, output_dir: str) -> None:
    """Write reports/sweeps/NAME.md and .json from the sweep's finished experiments of HEAD."""
    sweep_config = load_sweep(sweeps_path, name, params_path)
    finished, unfinished = finished_experiments()
    rows = report_rows(name, sweep_config, finished, artifacts_dir)
    if not rows:
        raise click.ClickException(f"no finished experiment of sweep {name!r} on HEAD (experiments belong to the "
                                   "commit they were queued on): queue it, then `dvc queue start`")
    mine = [entry for entry in unfinished if entry.startswith(f"{name}-")]
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n")
    (out / f"{name}.md").write_text(markdown_report(name, sweep_config, rows, mine))
    click.echo((out / f"{name}.md").read_text())
