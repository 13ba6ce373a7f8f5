#!/usr/bin/env bash
# The benchmark in one command: installs rag (with the sentence-transformers extra) and the benchmark's needs into
# ./.venv (created if missing, reused otherwise), then runs it. Arguments go to `python -m bench.run`, e.g.
#   bash bench/run.sh --sizes 1000,10000,100000
# Results: bench/results/results.{json,md}; vector cache: bench/cache/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[web,st]' -r bench/requirements.txt
exec .venv/bin/python -m bench.run "$@"
