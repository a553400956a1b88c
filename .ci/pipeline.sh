#!/usr/bin/env bash
# What a CI pipeline rerun does, in one place: the GitHub workflow calls it, and the e2e test runs
# it on a temporary project, so what CI would do is what the tests exercise.
#   bash .ci/pipeline.sh repro [BASE]          # dvc repro (main pushes)
#   bash .ci/pipeline.sh tiny [BASE]           # the tiny params profile, then dvc repro (pull requests)
#   bash .ci/pipeline.sh exp BASE -S k=v ...   # dvc exp run with the given arguments (by hand)
# Then it gates on a clean `dvc status` and writes `dvc metrics diff` / `dvc params diff` against
# BASE (default HEAD~1) to $SUMMARY (default: stdout). `dvc` must be on PATH (dev.sh puts it there).
set -euo pipefail
mode="${1:?usage: bash .ci/pipeline.sh repro|tiny|exp [BASE] [dvc exp run args...]}"
base="${2:-HEAD~1}"
summary="${SUMMARY:-/dev/stdout}"
case "$mode" in
  repro) dvc repro ;;
  tiny) cp tests/e2e/tiny_params.yaml params.yaml; dvc repro ;;
  exp) dvc exp run "${@:3}" ;;
  *) echo "unknown mode $mode: repro, tiny or exp" >&2; exit 2 ;;
esac
dvc status -q || { echo "dvc status is not clean after the run" >&2; dvc status >&2; exit 1; }
{
  echo "## dvc metrics diff ($base)"; echo '```'
  dvc metrics diff "$base" --md || true
  echo '```'; echo "## dvc params diff ($base)"; echo '```'
  dvc params diff "$base" --md || true
  echo '```'
} >>"$summary"
