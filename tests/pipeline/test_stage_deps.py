"""DVC deps are the truth of what a stage runs: every repository module a stage's command can
import (function-level imports included) lies under one of the stage's deps in dvc.yaml, and
local data files named in params are deps of `prepare`. A stale `dvc status` is a bug."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
import yaml
from import_graph import REPO, closure, lazy_table, module_file

STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def _command_module(cmd: str) -> str:
    words = shlex.split(cmd)
    # `${launch.train}` is `prefixes` or a launcher of `-m pipeline`: the same CLI either way.
    assert words[0] in ("prefixes", "${launch.train}"), f"stage commands run the `prefixes` CLI, got {cmd!r}"
    return (lazy_table("pipeline.cli") | lazy_table("prefixes.cli"))[words[1]]


def _covered(path: Path, deps: list[str]) -> bool:
    relative = path.relative_to(REPO)
    return any(relative == Path(dep) or Path(dep) in relative.parents for dep in deps)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_deps_cover_every_module_the_command_imports(stage):
    definition = STAGES[stage]
    roots = ["pipeline.cli", _command_module(definition["cmd"])]
    modules = closure(roots)
    missing = sorted(str(module_file(m).relative_to(REPO)) for m in modules
                     if not _covered(module_file(m), definition["deps"]))
    assert not missing, f"stage {stage!r} imports modules outside its deps; add to dvc.yaml: {missing}"


def test_closure_follows_function_level_and_lazy_imports():
    modules = closure(["pipeline.evaluate"])
    assert "prefixes.model" in modules  # imported at module level
    assert "prefixes.data.formats" in modules  # through a package's lazy export table
    assert "pipeline.prepared" in modules


def test_prepare_depends_on_the_local_data_folder():
    from pipeline.layout import RAW_DATA_DIR

    assert RAW_DATA_DIR in STAGES["prepare"]["deps"]


def test_params_validation_imports_no_torch(tmp_path):
    import subprocess

    code = ("import sys; from pipeline.params import load_params; load_params('params.yaml'); "
            "from pipeline.cli import main; "
            "heavy = [m for m in ('torch', 'transformers', 'accelerate') if m in sys.modules]; "
            "assert not heavy, heavy")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
