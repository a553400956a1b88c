"""The `registry` click group: JSON outputs, human output, exit codes and clean errors."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result
from registry_artifacts import write_artifact

from prefixes.cli.registry import registry as cli


def run(*args: str | Path, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, [str(arg) for arg in args])
    assert result.exit_code == code, result.output
    return result


def test_publish_list_show_promote_round_trip_as_json(tmp_path):
    reg = tmp_path / "reg"
    lock = tmp_path / "dvc.lock"
    lock.write_text("stages:\n  train-prefix@t:\n    cmd: train\n")
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"accuracy": 0.875}))
    artifact = write_artifact(tmp_path, seed=1)

    published = json.loads(run("publish", artifact, "--registry", reg, "--task", "t",
                               "--method", "prefix", "--metrics", metrics, "--dvc-lock", lock,
                               "--dvc-stage", "train-prefix@t", "--json").stdout)
    assert {"task", "method", "version", "digest"} <= published.keys()
    assert (published["task"], published["method"], published["version"]) == ("t", "prefix", "v1")
    again = json.loads(run("publish", artifact, "--registry", reg, "--task", "t",
                           "--method", "prefix", "--json").stdout)
    assert (again["version"], again["digest"]) == ("v1", published["digest"])
    run("publish", write_artifact(tmp_path, 2), "--registry", reg, "--task", "t",
        "--method", "prefix")

    promoted = json.loads(run("promote", "t", "--method", "prefix", "--version", "v1",
                              "--alias", "production", "--registry", reg, "--json").stdout)
    assert (promoted["alias"], promoted["from_version"], promoted["to_version"]) == (
        "production", None, "v1")
    rows = json.loads(run("list", "--registry", reg, "--task", "t", "--json").stdout)
    assert [(r["version"], r["aliases"]) for r in rows] == [("v1", ["production"]), ("v2", [])]
    assert all({"task", "method", "version", "digest", "created_at"} <= r.keys() for r in rows)
    assert rows[0]["metrics"] == {"accuracy": 0.875}

    shown = json.loads(run("show", "t", "--method", "prefix", "--version", "production",
                           "--registry", reg, "--json").stdout)
    assert shown["version"] == "v1" and shown["dvc"]["stage"] == "train-prefix@t"
    assert len(shown["dvc"]["lock_hash"]) == 64 and "commit" in shown["git"]


def test_show_prints_provenance_lines_for_people(tmp_path):
    reg = tmp_path / "reg"
    lock = tmp_path / "dvc.lock"
    lock.write_text("stages:\n  train-prefix@t:\n    cmd: train\n")
    run("publish", write_artifact(tmp_path, 1, method="prompt"), "--registry", reg, "--task", "t",
        "--method", "prompt", "--dvc-lock", lock, "--dvc-stage", "train-prefix@t")
    text = run("show", "t", "--method", "prompt", "--version", "v1", "--registry", reg).stdout
    lines = {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in text.splitlines()
             if ":" in line and not line.startswith(" ")}
    assert lines["entry"] == "t/prompt/v1"
    assert "git commit" in lines
    assert lines["dvc.lock hash"].endswith("(stage train-prefix@t)")
    assert "sha256" in text and "prefix.safetensors" in text


def test_verify_exits_non_zero_and_names_the_bad_entry(tmp_path):
    reg = tmp_path / "reg"
    run("publish", write_artifact(tmp_path, 1), "--registry", reg, "--task", "t",
        "--method", "prefix")
    assert "ok: 1 entries" in run("verify", "--registry", reg).stdout
    weights = reg / "t" / "prefix" / "v1" / "prefix.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    result = run("verify", "--registry", reg, code=1)
    assert "t/prefix/v1: prefix.safetensors" in result.stderr
    report = json.loads(run("verify", "--registry", reg, "--json", code=1).stdout)
    assert report["ok"] is False
    assert [(p["entry"], p["file"]) for p in report["problems"]] == [
        ("t/prefix/v1", "prefix.safetensors")]


def test_errors_are_one_clear_line_without_a_traceback(tmp_path):
    reg = tmp_path / "reg"
    bad = run("publish", write_artifact(tmp_path, seed=1), "--registry", reg, "--task", "../up",
              "--method", "prefix", code=1)
    assert "Error: invalid task name '../up'" in bad.stderr and "Traceback" not in bad.output
    assert isinstance(bad.exception, SystemExit) and not reg.exists()
    training = run("publish", write_artifact(tmp_path, seed=1, form="training"), "--registry", reg,
                   "--task", "t", "--method", "prefix", code=1)
    assert "only folded" in training.stderr
    missing = run("show", "t", "--method", "prefix", "--registry", reg, code=1)
    assert "no versions of t/prefix" in missing.stderr


def test_registry_defaults_to_the_project_registry_directory(tmp_path, monkeypatch):
    artifact = write_artifact(tmp_path, seed=1)
    monkeypatch.chdir(tmp_path)
    run("publish", artifact, "--task", "t", "--method", "prefix")
    assert (tmp_path / "registry" / "t" / "prefix" / "v1" / "metadata.json").is_file()
    assert "t/prefix/v1" in run("list").stdout


def test_list_shows_the_readable_versions_and_names_the_corrupt_one(tmp_path):
    reg = tmp_path / "reg"
    for seed in (1, 2, 3):
        run("publish", write_artifact(tmp_path, seed), "--registry", reg, "--task", "t",
            "--method", "prefix")
    (reg / "t" / "prefix" / "v2" / "metadata.json").write_text('{"schema_version": 2}')
    result = run("list", "--registry", reg, code=1)
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["t/prefix/v1", "t/prefix/v3"]
    broken = result.stderr.splitlines()
    assert len(broken) == 1 and broken[0].startswith("broken: t/prefix/v2: ")
    assert "does not match the metadata schema" in broken[0] and "Traceback" not in result.output
    rows = json.loads(run("list", "--registry", reg, "--json", code=1).stdout)
    assert [row["version"] for row in rows] == ["v1", "v3"]


def test_publish_of_a_nan_metric_from_yaml_fails_cleanly_and_writes_nothing(tmp_path):
    reg = tmp_path / "reg"
    metrics = tmp_path / "m.yaml"
    metrics.write_text("accuracy: .nan\n")
    result = run("publish", write_artifact(tmp_path, 1), "--registry", reg, "--task", "t",
                 "--method", "prefix", "--metrics", metrics, code=1)
    assert result.stderr.strip().splitlines() == [
        "Error: metric 'accuracy' is nan: metrics must be finite numbers (NaN or infinity usually "
        "means training diverged); fix the run or leave the metric out"]
    assert not reg.exists()


def test_show_refuses_an_alias_pointing_outside_its_namespace(tmp_path):
    reg = tmp_path / "reg"
    run("publish", write_artifact(tmp_path, 1), "--registry", reg, "--task", "t",
        "--method", "prefix")
    (reg / "t" / "prefix" / "aliases.json").write_text(
        json.dumps({"aliases": {"production": "../../../outside/evil"}, "history": []}))
    result = run("show", "t", "--method", "prefix", "--version", "production", "--registry", reg, code=1)
    assert result.stderr.startswith("Error: alias 'production' of t/prefix points at "
                                    "'../../../outside/evil', which is not a version name")
    assert len(result.stderr.strip().splitlines()) == 1


def test_show_without_method_lists_the_tasks_methods(tmp_path):
    """Issue 24 item 9: `show TASK` required --method instead of saying which methods TASK has."""
    reg = tmp_path / "reg"
    for seed, method in ((1, "prefix"), (2, "prefix"), (3, "prompt")):
        run("publish", write_artifact(tmp_path, seed, method=method), "--registry", reg, "--task", "t",
            "--method", method)
    run("promote", "t", "--method", "prefix", "--version", "v1", "--alias", "production", "--registry", reg)
    assert run("show", "t", "--registry", reg).stdout.splitlines() == [
        "t/prefix  2 versions, latest v2  aliases: production -> v1",
        "t/prompt  1 version, latest v1  aliases: -",
    ]
    assert json.loads(run("show", "t", "--registry", reg, "--json").stdout) == [
        {"task": "t", "method": "prefix", "versions": ["v1", "v2"], "latest": "v2", "aliases": {"production": "v1"}},
        {"task": "t", "method": "prompt", "versions": ["v1"], "latest": "v1", "aliases": {}},
    ]
    missing = run("show", "nope", "--registry", reg, code=1)
    assert missing.stderr.strip() == f"Error: no versions of task 'nope' in registry {reg}"
    lonely = run("show", "t", "--version", "v1", "--registry", reg, code=2)
    assert "--version needs --method" in lonely.stderr


def test_get_prints_what_the_python_api_returns(tmp_path):
    """Issue 24 item 9: `Registry.get` had no command-line counterpart."""
    from prefixes.registry import Registry

    reg = tmp_path / "reg"
    for seed in (1, 2):
        run("publish", write_artifact(tmp_path, seed), "--registry", reg, "--task", "t", "--method", "prefix")
    run("promote", "t", "--method", "prefix", "--version", "v1", "--alias", "production", "--registry", reg)
    for version in ("production", "v1", None):
        args = ("--version", version) if version else ()
        entry = Registry(reg).get("t", "prefix", version or "latest")
        got = json.loads(run("get", "t", "--method", "prefix", *args, "--registry", reg, "--json").stdout)
        assert got == {
            "task": "t", "method": "prefix", "version": entry.path.name, "path": str(entry.path),
            "digest": entry.metadata.digest, "files": {f.name: f.sha256 for f in entry.metadata.files},
        }
    text = run("get", "t", "--method", "prefix", "--version", "production", "--registry", reg).stdout
    entry = Registry(reg).get("t", "prefix", "production")
    assert text.splitlines() == [
        f"t/prefix/v1  {entry.path}",
        f"digest  {entry.metadata.digest}",
        *(f"  {f.name}  sha256 {f.sha256}" for f in entry.metadata.files),
    ]
    missing = run("get", "t", "--method", "prefix", "--version", "v9", "--registry", reg, code=1)
    assert missing.stderr.strip() == f"Error: t/prefix/v9 does not exist in registry {reg}"
