"""examples/ and notebooks/ run as a user would run them, on the small budget.

Each example script runs with ``--quick`` in a fresh interpreter; each notebook is executed cell
by cell in a fresh kernel (nbclient) with ``PREFIXES_QUICK=1``; any error cell fails the test.
The kernel is this interpreter (a kernelspec written for the test), so it sees the same packages
as pytest whatever kernels the machine has installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPOSITORY / "examples").glob("*.py"))
NOTEBOOKS = sorted((REPOSITORY / "notebooks").glob("*.ipynb"))
# What each example prints last: its real metric on held-out data.
HEADLINES = {
    "text_classification_prefix.py": "test accuracy",
    "text_generation_prefix.py": "test perplexity",
    "multi_task_prefix.py": "mixed-batch test accuracy",
}
TIMEOUT_S = 300
KERNEL = "prefixes-test"

pytestmark = pytest.mark.integration


def _quick_env(tmp_path: Path) -> dict[str, str]:
    """The environment CI gives a child: offline, quick budget, this checkout first on the path."""
    paths = [str(REPOSITORY), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)),
        "HF_HUB_OFFLINE": "1",
        "PREFIXES_QUICK": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "TQDM_DISABLE": "1",
        # Kernel connection files and IPython's profile go under the test's folder, not $HOME.
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
    }


def test_every_example_and_notebook_is_covered():
    assert {path.name for path in EXAMPLES} == set(HEADLINES)
    assert [path.name for path in NOTEBOOKS] == [
        "01_prefix_tuning_basics.ipynb", "02_prompt_tuning_comparison.ipynb", "03_parameter_efficiency_analysis.ipynb",
    ]


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_runs_quick(script: Path, tmp_path: Path):
    result = subprocess.run(
        [sys.executable, str(script), "--quick", "--out", str(tmp_path / "out")],
        cwd=tmp_path, env=_quick_env(tmp_path), capture_output=True, text=True, timeout=TIMEOUT_S,
    )
    assert result.returncode == 0, f"{script.name} --quick failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    assert HEADLINES[script.name] in result.stdout, result.stdout


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_committed_with_outputs(notebook: Path):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert code and all(cell.get("execution_count") for cell in code), f"{notebook.name}: run every cell before committing"
    assert not [out for cell in code for out in cell["outputs"] if out["output_type"] == "error"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_executes_quick(notebook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    env = _quick_env(tmp_path)
    for name in ("PYTHONPATH", "HF_HUB_OFFLINE", "PREFIXES_QUICK", "TQDM_DISABLE", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        monkeypatch.setenv(name, env[name])
    spec_dir = tmp_path / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "prefixes test", "language": "python",
    }))
    manager = KernelManager(kernel_name=KERNEL, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir.parent)]))
    executed = nbformat.read(notebook, as_version=4)
    client = NotebookClient(executed, km=manager, kernel_name=KERNEL, timeout=TIMEOUT_S,
                            resources={"metadata": {"path": str(notebook.parent)}})
    client.execute()  # raises CellExecutionError on the first error cell
    errors = [out for cell in executed.cells if cell.cell_type == "code"
              for out in cell.outputs if out.output_type == "error"]
    assert not errors, f"{notebook.name}: {errors[0]['ename']}: {errors[0]['evalue']}"
