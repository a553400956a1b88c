"""Concurrent publishers and publishers killed mid-publish, as real OS processes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from registry_artifacts import write_artifact

from prefixes.registry import Registry

REPO_ROOT = Path(__file__).resolve().parents[2]

# Shared start of every child. The package __init__ imports the torch/transformers model stack,
# seconds per process on a small CI box; the registry needs none of it, so the child registers a
# bare `prefixes` package and imports only the registry modules.
CHILD_PRELUDE = f"""
import json, os, sys, types
package = types.ModuleType("prefixes")
package.__path__ = [{str(REPO_ROOT / "prefixes")!r}]
sys.modules["prefixes"] = package
from prefixes.registry import Registry
"""

# Publishes the given artifact dirs in order, after every child is ready (so they really overlap).
CONCURRENT_CHILD = CHILD_PRELUDE + """
root, task, *artifacts = sys.argv[1:]
print("ready", flush=True)
sys.stdin.readline()
registry = Registry(root)
results = [(a, registry.publish(a, task=task, method="prefix").metadata.version) for a in artifacts]
print(json.dumps(results), flush=True)
"""

# Publishes new content in a loop until killed; weights are random bytes behind a valid header (the
# registry parses the header and hashes the bytes), large enough that a kill often lands inside
# copying, fsync or the claim.
LOOPING_CHILD = CHILD_PRELUDE + """
import struct
root, work = sys.argv[1:]
registry = Registry(root)
config = json.dumps({"method": "prefix", "form": "folded", "task_type": "text_generation",
                     "base_model": {"model_type": "m", "name_or_path": "m", "fingerprint": "f"},
                     "method_config": {"prefix_length": 4}, "hidden_size": 8,
                     "layout": {"site_kinds": ["self"], "num_kv_heads": 1, "head_dim": 8192}})
size = 4 * 1 * 2 * 1 * 8192 * 4  # 256 KiB of float32
header = json.dumps({"prefix": {"dtype": "F32", "shape": [4, 1, 2, 1, 8192],
                                "data_offsets": [0, size]}}).encode()
print("ready", flush=True)
for i in range(10**6):
    artifact = os.path.join(work, f"{os.getpid()}-{i}")
    os.makedirs(artifact)
    with open(os.path.join(artifact, "prefix_config.json"), "w") as f:
        f.write(config)
    with open(os.path.join(artifact, "prefix.safetensors"), "wb") as f:
        data = bytearray(os.urandom(size))
        data[3::4] = bytes(size // 4)  # a zero top byte keeps every float finite (publish refuses NaN)
        f.write(struct.pack("<Q", len(header)) + header + data)
    registry.publish(artifact, task="crash", method="prefix")
"""


def _start(code: str, *args: str | Path, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )


def _wait_ready(process: subprocess.Popen[str]) -> None:
    assert process.stdout.readline().strip() == "ready", "child failed to start"


def test_eight_concurrent_publishers_lose_and_duplicate_nothing(tmp_path):
    root = tmp_path / "reg"
    shared = write_artifact(tmp_path, seed=0)  # published by all eight
    pairs = [write_artifact(tmp_path, 100 + i) for i in range(4)]  # each published by two children
    unique = [write_artifact(tmp_path, 200 + i) for i in range(8)]  # each published by one child
    rng = random.Random(0)
    plans = []
    for child in range(8):
        rest = [pairs[child // 2], unique[child]]
        rng.shuffle(rest)
        plans.append([shared, *rest])  # all eight race on the shared content first

    children = [_start(CONCURRENT_CHILD, root, "t", *plan, cwd=tmp_path) for plan in plans]
    for child in children:
        _wait_ready(child)
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    reported: dict[str, set[str]] = {}
    for child in children:
        out, _ = child.communicate(timeout=60)
        assert child.returncode == 0
        for artifact, version in json.loads(out):
            reported.setdefault(artifact, set()).add(version)

    entries = Registry(root).list("t", "prefix")
    versions = [e.metadata.version for e in entries]
    assert versions == [f"v{n}" for n in range(1, 14)]  # 1 shared + 4 pairs + 8 unique, no gaps
    assert len({e.metadata.digest for e in entries}) == 13
    # Every publisher of the same content was told the same version, and it holds that content.
    by_version = {e.metadata.version: e for e in entries}
    for artifact, seen in reported.items():
        assert len(seen) == 1, f"{artifact} was published as {seen}"
        stored = by_version[seen.pop()].path / "prefix.safetensors"
        assert stored.read_bytes() == (Path(artifact) / "prefix.safetensors").read_bytes()
    assert Registry(root).verify().ok
    assert os.listdir(root / ".staging") == []


def _visible_versions_are_complete(root: Path) -> list[str]:
    report = Registry(root).verify()
    assert report.ok, report.problems
    versions = [e.metadata.version for e in Registry(root).list("crash", "prefix")]
    assert versions == [f"v{n}" for n in range(1, len(versions) + 1)]
    return versions


def test_publishers_killed_at_random_moments_leave_no_partial_version(tmp_path):
    root = tmp_path / "reg"
    staging = root / ".staging"
    work = tmp_path / "work"
    work.mkdir()
    Registry(root).publish(write_artifact(tmp_path, seed=6), task="crash", method="prefix")
    rng = random.Random(1234)
    # Kill until two kills have landed inside a publish (a staging dir was left behind), so the
    # test provably covers the dangerous window and not just the gaps between publishes.
    mid_publish_kills = attempts = 0
    while mid_publish_kills < 2 and attempts < 16:
        attempts += 1
        before = set(os.listdir(staging))
        # Outside a git repository the git probes fail fast, so kills land in the file work.
        child = _start(LOOPING_CHILD, root, work, cwd=work)
        _wait_ready(child)
        time.sleep(rng.uniform(0.02, 0.4))
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL
        left = {n for n in set(os.listdir(staging)) - before if not n.endswith(".lock")}
        mid_publish_kills += bool(left)
        _visible_versions_are_complete(root)
    assert mid_publish_kills >= 1, f"no kill of {attempts} landed inside a publish"

    before = _visible_versions_are_complete(root)
    after = Registry(root).publish(write_artifact(tmp_path, seed=7), task="crash", method="prefix")
    assert after.metadata.version == f"v{len(before) + 1}"
    assert _visible_versions_are_complete(root) == [*before, after.metadata.version]
    # The killed publishers' leftovers stayed invisible; once a minute old they are cleaned.
    long_ago = time.time() - 120
    for name in os.listdir(staging):
        os.utime(staging / name, (long_ago, long_ago))
    Registry(root).publish(write_artifact(tmp_path, seed=8), task="crash", method="prefix")
    assert os.listdir(staging) == []
