"""Where the pipeline's outputs land: every file and folder name, defined once.

dvc.yaml spells the same paths (DVC needs them literally); the stage commands receive the
folders as arguments and use these names inside them.
"""

from prefixes import tracking

RAW_DATA_DIR = "data/raw"
"""Local data files named in params.yaml live here; every prepare stage depends on the folder."""

SPLITS = ("train", "eval", "test")
PREPARED_SUMMARY = "data.json"
"""Inside a prepared-data folder: fingerprints, counts, label names; next to `<split>.jsonl`."""

BEST_DIR = "best"
"""Inside a run's folder: the folded artifact of the best evaluation."""
CHECKPOINT_DIR = "checkpoint"
"""Inside a run's folder: the resumable training state."""
TRAIN_SUMMARY = "train.json"
"""Inside a run's folder: steps, sizes, times of the run."""
# Inside a run's folder (the trainer's log_dir): DVCLive's files, the run's DVC metrics (metrics.json) and
# plots (plots/metrics/); the library names the folder.
DVCLIVE_DIR = tracking.DVCLIVE_DIR


def split_file(name: str) -> str:
    return f"{name}.jsonl"


def train_stage(task: str, method: str) -> str:
    """The DVC stage that trains a (task, method) run, as dvc.yaml's matrices name it."""
    from prefixes.methods.registry import get_method

    return f"train-{get_method(method).kind}@{task}-{method}"
