#!/usr/bin/env bash
# Install rag in ./.venv and start the web app on the shipped corpus (the index is built first if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet '.[web]'  # not editable: a user's install, and setuptools says nothing
exec .venv/bin/rag serve "$@"
