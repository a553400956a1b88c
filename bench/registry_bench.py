"""Registry benchmarks: look-ups at 10,000 versions, publish throughput and verify throughput.

    python bench/registry_bench.py [--versions 10000]

Writes `bench/results/registry.json`: a list of records {name, unit, ours, reference,
reference_name, ratio, spread}; `ours` is the median, `spread` is [min, max] over the repetitions.
There is no reference implementation to compare against, so the reference fields are null.

The first `PUBLISHED` versions go through `Registry.publish` (fsync'd, locked, with git probes) and
give the publish throughput. The namespace is then bulk-seeded to `--versions` with distinct,
valid versions written directly (no fsync), because publishing 10,000 one by one would take minutes
and measures nothing new; `verify` checks the seeded versions like any others.

`get_latest_*` is the steady state (the listing cache, validated by the directory's mtime, answers);
`get_latest_*_just_changed` is a call within two seconds of a change, which rescans the listing.
Timings depend on the machine and its load; compare runs on the same one.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from prefixes.io import sha256_file
from prefixes.registry import Registry
from prefixes.registry.artifact import METADATA_FILE, content_digest
from prefixes.registry.metadata import FileRecord

RESULTS = Path(__file__).resolve().parent / "results" / "registry.json"
PUBLISHED = 200
TASK, METHOD = "bench", "prefix"
# A GPT-2-sized folded prefix: 20 virtual tokens x 12 layers x (K, V) x 12 heads x 64 dims, float32.
GPT2_PREFIX = (20, 12, 2, 12, 64)
REALISTIC_WEIGHT_BYTES = math.prod(GPT2_PREFIX) * 4
# The smallest valid prefix with 512 bytes of weights, for throughput and the 10,000 versions.
SMALL_PREFIX = (1, 1, 2, 1, 64)


def write_artifact(directory: Path, shape: tuple[int, int, int, int, int]) -> Path:
    """An artifact whose folded prefix of `shape` holds random (hence distinct) float32 weights.

    `shape` is (virtual tokens, sites, K/V, kv heads, head dim); publish checks the safetensors
    header and the shape against the config, then hashes the bytes.
    """
    directory.mkdir(parents=True)
    tokens, sites, _, heads, head_dim = shape
    size = math.prod(shape) * 4
    config = {"method": "prefix", "form": "folded", "task_type": "text_generation",
              "base_model": {"model_type": "gpt2", "name_or_path": "gpt2", "fingerprint": "bench"},
              "method_config": {"prefix_length": tokens}, "hidden_size": 768,
              "layout": {"site_kinds": ["self"] * sites, "num_kv_heads": heads,
                         "head_dim": head_dim}}
    (directory / "prefix_config.json").write_text(json.dumps(config))
    header = json.dumps({"prefix": {"dtype": "F32", "shape": list(shape),
                                    "data_offsets": [0, size]}})
    weights = struct.pack("<Q", len(header)) + header.encode() + os.urandom(size)
    (directory / "prefix.safetensors").write_bytes(weights)
    return directory


def seed_versions(registry: Registry, total: int, work: Path) -> None:
    """Add distinct versions up to `total`, each a copy of the latest one with new weights."""
    template = registry.get(TASK, METHOD)
    namespace = template.path.parent
    start = int(template.path.name[1:]) + 1
    for number in range(start, total + 1):
        version = namespace / f"v{number}"
        version.mkdir()
        shutil.copyfile(template.path / "prefix_config.json", version / "prefix_config.json")
        (version / "prefix.safetensors").write_bytes(os.urandom(512))
        records = []
        for name in ("prefix.safetensors", "prefix_config.json"):
            sha, size = sha256_file(version / name)
            records.append(FileRecord(name=name, sha256=sha, size=size))
        metadata = template.metadata.model_copy(
            update={"version": version.name, "files": records, "digest": content_digest(records)}
        )
        (version / METADATA_FILE).write_text(metadata.to_json())


def timed(action: Callable[[], object], repeats: int, warm_up: bool = True) -> list[float]:
    """Wall-clock seconds of each of `repeats` calls, after one warm-up call unless told not to."""
    if warm_up:
        action()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def record(name: str, unit: str, values: list[float]) -> dict[str, object]:
    rounded = [round(value, 4) for value in values]
    return {"name": name, "unit": unit, "ours": round(statistics.median(values), 4),
            "reference": None, "reference_name": None, "ratio": None,
            "spread": [min(rounded), max(rounded)]}


def ms(seconds: list[float]) -> list[float]:
    return [s * 1e3 for s in seconds]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=10_000)
    versions = parser.parse_args().versions
    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        registry = Registry(work / "reg")
        artifacts = [write_artifact(work / "in" / f"a{i}", SMALL_PREFIX) for i in range(PUBLISHED)]
        batch_rates = []
        for batch in range(4):  # four batches of 50 give the spread
            chunk = artifacts[batch * 50:(batch + 1) * 50]
            start = time.perf_counter()
            for artifact in chunk:
                registry.publish(artifact, task=TASK, method=METHOD)
            batch_rates.append(len(chunk) / (time.perf_counter() - start))
        results.append(record("registry.publish_throughput", "entries/s", batch_rates))

        seed_versions(registry, versions, work)
        registry.promote(TASK, METHOD, f"v{versions // 2}", "production")
        label = f"{versions // 1000}k" if versions >= 1000 else str(versions)
        assert registry.get(TASK, METHOD).path.name == f"v{versions}"
        # Within two seconds of a change the listing is rescanned on every call (racy mtime); after
        # that the mtime-validated cache answers. Both are reported.
        get_rescan = timed(lambda: registry.get(TASK, METHOD, "latest"), 100)
        time.sleep(2.1)
        get_latest = timed(lambda: registry.get(TASK, METHOD, "latest"), 300)
        results.append(record(f"registry.get_latest_{label}_versions", "ms", ms(get_latest)))
        results.append(record(f"registry.get_latest_{label}_versions_just_changed", "ms",
                              ms(get_rescan)))
        get_exact = timed(lambda: registry.get(TASK, METHOD, f"v{versions // 3}"), 300)
        results.append(record(f"registry.get_version_{label}_versions", "ms", ms(get_exact)))
        get_alias = timed(lambda: registry.get(TASK, METHOD, "production"), 300)
        results.append(record(f"registry.get_alias_{label}_versions", "ms", ms(get_alias)))
        listing = timed(lambda: registry.list(TASK, METHOD), 3)
        results.append(record(f"registry.list_{label}_versions", "ms", ms(listing)))

        # A fresh clone has no digest cache: the first publish reads every version's metadata once.
        (registry.root / ".cache" / f"{TASK}@{METHOD}.digests").unlink()
        extra = iter(write_artifact(work / "extra" / f"a{i}", SMALL_PREFIX) for i in range(30))
        cold = timed(lambda: registry.publish(next(extra), task=TASK, method=METHOD), 1,
                     warm_up=False)
        results.append(record(f"registry.publish_cold_cache_{label}_versions", "ms", ms(cold)))
        warm = timed(lambda: registry.publish(next(extra), task=TASK, method=METHOD), 20)
        results.append(record(f"registry.publish_{label}_versions", "ms", ms(warm)))

        total = len(registry.list(TASK, METHOD))
        verify_small = timed(lambda: registry.verify(), 3)
        results.append(record(f"registry.verify_throughput_{label}_small", "entries/s",
                              [total / s for s in verify_small]))

        realistic = Registry(work / "realistic")
        for i in range(100):
            artifact = write_artifact(work / "big" / f"a{i}", GPT2_PREFIX)
            realistic.publish(artifact, task=TASK, method=METHOD)
        verify_big = timed(lambda: realistic.verify(), 3)
        results.append(record("registry.verify_throughput_gpt2_prefix", "entries/s",
                              [100 / s for s in verify_big]))
        results.append(record("registry.verify_bandwidth_gpt2_prefix", "MB/s",
                              [100 * REALISTIC_WEIGHT_BYTES / 1e6 / s for s in verify_big]))
        assert registry.verify().ok and realistic.verify().ok

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    for row in results:
        print(f"{row['name']:<45} {row['ours']:>12} {row['unit']:<10} spread {row['spread']}")


if __name__ == "__main__":
    main()
