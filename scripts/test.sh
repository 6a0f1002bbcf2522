#!/usr/bin/env bash
# The test suite: TypeScript (vitest, against a fresh build, since CLI tests run ./bin/refusenik) and the
# Python trainer (pytest, in .venv when it exists). REFUSENIK_CI=1 turns every "skipped: missing tool" into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export REFUSENIK_DATA_DIR="${REFUSENIK_DATA_DIR:-../shared/data}"

npm run --silent build
npx vitest run "$@"

if [ -x .venv/bin/python ]; then
  .venv/bin/python -m pytest -q trainer/tests
elif [ "${REFUSENIK_CI:-}" = 1 ]; then
  echo "test.sh: .venv is missing; .ci/run should have created it" >&2
  exit 1
else
  echo "test.sh: skipping the Python trainer tests (no .venv; create it with: bash scripts/setup-python.sh)" >&2
fi
