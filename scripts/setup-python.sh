#!/usr/bin/env bash
# Creates .venv with the trainer's pinned dependencies (CPU use; the same wheels work on a GPU box).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r trainer/requirements.txt
.venv/bin/python -m pip install -q --no-deps -e trainer
