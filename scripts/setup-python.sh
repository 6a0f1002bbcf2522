#!/usr/bin/env bash
# Creates .venv with the trainer's pinned dependencies (trainer/requirements.txt) and the trainer package
# (editable). Idempotent: when the pins and pyproject.toml have not changed since the last successful run and
# the packages import, it does nothing (about a second). PYTHON picks the interpreter (default python3);
# PIP_ARGS adds pip options, e.g. PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu" for CPU-only torch.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
STAMP=.venv/.refusenik-setup
want="$(cat trainer/requirements.txt trainer/pyproject.toml | sha256sum | cut -d' ' -f1)"

if [ -x .venv/bin/python ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] &&
  .venv/bin/python -c 'import torch, transformers, peft, refusenik_trainer' 2>/dev/null; then
  echo "setup-python: .venv is up to date"
  exit 0
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
rm -f "$STAMP"
# shellcheck disable=SC2086 # PIP_ARGS is a list of options
.venv/bin/python -m pip install -q --disable-pip-version-check ${PIP_ARGS:-} -r trainer/requirements.txt
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e trainer
.venv/bin/python -c 'import torch, transformers, peft, refusenik_trainer'
echo "$want" >"$STAMP"
echo "setup-python: .venv ready ($(.venv/bin/python -c 'import torch, transformers, peft; print("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__)'))"
