#!/usr/bin/env bash
# A real serving engine for the tests: llama-cpp-python's OpenAI-compatible server, built from its pinned PyPI
# sdist into .venv-llamacpp, and a tiny random-initialised Llama (the Llama-3 fixture tokenizer) converted to
# GGUF with the converter that same sdist ships. Idempotent: does nothing when the pins and this script have
# not changed. The conversion runs in .venv (bash scripts/setup-python.sh first), which has torch and
# transformers; it adds only sentencepiece, into a folder of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.3.36
PY="${PYTHON:-python3}"
DIR=.venv-llamacpp
STAMP=$DIR/.refusenik-setup
want="$(sha256sum scripts/setup-llamacpp.sh | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -f $DIR/tiny/model.gguf ] &&
  $DIR/bin/python -c 'import llama_cpp.server' 2>/dev/null; then
  echo "setup-llamacpp: $DIR is up to date"
  exit 0
fi
[ -x .venv/bin/python ] || { echo "setup-llamacpp: run bash scripts/setup-python.sh first" >&2; exit 1; }
[ -x $DIR/bin/python ] || "$PY" -m venv $DIR
rm -f "$STAMP"
mkdir -p $DIR/src $DIR/tiny/hf
SDIST=$DIR/src/llama_cpp_python-$VERSION.tar.gz
[ -f "$SDIST" ] || $DIR/bin/python -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
  "llama-cpp-python==$VERSION" -d $DIR/src
# CPU only, no network code in the library; the server's own dependencies pinned. Skipped when this version
# is already built here (the build takes minutes).
if ! $DIR/bin/python -c "import llama_cpp, llama_cpp.server, sys; sys.exit(llama_cpp.__version__ != '$VERSION')" 2>/dev/null; then
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_CURL=OFF" \
    $DIR/bin/python -m pip install -q --disable-pip-version-check "$SDIST" \
    fastapi==0.165.0 uvicorn==0.55.0 sse-starlette==3.7.1 pydantic-settings==2.16.3 starlette-context==0.5.1
fi

# The tiny model: random weights in HF format, then GGUF (f32, so it computes what the HF model computes). A wide
# initialisation gives peaked next-token distributions, so the engines' top tokens are well separated.
# The same sdist's converters: HF -> GGUF (here) and a PEFT LoRA adapter -> a GGUF adapter (the loop serves a
# trained adapter with this engine, over the base GGUF).
tar xzf "$SDIST" -C $DIR/src "llama_cpp_python-$VERSION/vendor/llama.cpp/convert_hf_to_gguf.py" \
  "llama_cpp_python-$VERSION/vendor/llama.cpp/convert_lora_to_gguf.py" \
  "llama_cpp_python-$VERSION/vendor/llama.cpp/conversion" "llama_cpp_python-$VERSION/vendor/llama.cpp/gguf-py"
.venv/bin/python -m pip install -q --disable-pip-version-check --target $DIR/convert-deps sentencepiece==0.2.1
cp ../shared/fixtures/tokenizers/llama3/tokenizer.json ../shared/fixtures/tokenizers/llama3/tokenizer_config.json \
  $DIR/tiny/hf/
.venv/bin/python - "$DIR/tiny/hf" <<'PY'
import sys, torch
from transformers import LlamaConfig, LlamaForCausalLM
torch.manual_seed(0)
cfg = LlamaConfig(vocab_size=128256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, bos_token_id=128000,
    eos_token_id=128009, rope_theta=500000.0, initializer_range=0.5)
LlamaForCausalLM(cfg).save_pretrained(sys.argv[1])
PY
CONVERT=$DIR/src/llama_cpp_python-$VERSION/vendor/llama.cpp
PYTHONPATH="$CONVERT/gguf-py:$DIR/convert-deps" .venv/bin/python "$CONVERT/convert_hf_to_gguf.py" $DIR/tiny/hf \
  --outfile $DIR/tiny/model.gguf --outtype f32 >$DIR/tiny/convert.log 2>&1 ||
  { tail -20 $DIR/tiny/convert.log >&2; exit 1; }
$DIR/bin/python -c 'import llama_cpp.server'
echo "$want" >"$STAMP"
echo "setup-llamacpp: $DIR ready (llama-cpp-python $VERSION, tiny model $(du -h $DIR/tiny/model.gguf | cut -f1))"
