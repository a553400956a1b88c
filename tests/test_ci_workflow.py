"""The CI workflow runs the test suite (.ci/run) as well as the pipeline rerun, and GitHub's schema accepts it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "pipeline.yml"


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_ci_runs_the_test_suite_beside_the_pipeline_rerun():
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    assert [name for name, job in jobs.items() if "bash .ci/run" in _runs(job)] == ["tests"]
    assert [name for name, job in jobs.items() if ".ci/pipeline.sh" in _runs(job)] == ["repro"]


def test_the_workflow_is_valid_against_githubs_schema():
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run([str(checker), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
