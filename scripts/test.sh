#!/usr/bin/env bash
# Install everything the tests need (Python packages in ./.venv, Chromium for the browser tests) and run the
# whole test suite, slow tests included (real model, browser). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
# Chromium for the browser tests; Tesseract with its French and English models for the OCR tests (real OCR), and
# the DejaVu fonts the tests typeset their scans with.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || ! command -v tesseract >/dev/null \
  || [ ! -f /usr/share/tesseract-ocr/5/tessdata/fra.traineddata ] || [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver \
    tesseract-ocr tesseract-ocr-fra tesseract-ocr-eng fonts-dejavu-core >/dev/null
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
.venv/bin/ruff check rag ui tests eval bench
.venv/bin/mypy
.venv/bin/mypy --platform win32 rag  # the library must not depend on Unix-only calls (see README)
exec .venv/bin/python -m pytest -m '' "$@"
