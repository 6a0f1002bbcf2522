#!/usr/bin/env bash
# The trainer's GPU checks in one go, for the first machine with a CUDA GPU (nothing here runs on a CPU-only box):
#   1. the environment: torch sees the GPU, bf16 is supported;
#   2. the trainer's pytest suite on the GPU (bf16 autocast, LoRA, checkpointing, the chunked loss);
#   3. trainer/bench/gpu_bench.py: refusenik's training step against a stock HF + PEFT loop on a random
#      Llama-3-8B architecture, LoRA r 96, block 1024, bf16 (target: >= 2x the stock loop's tokens/s; the stock
#      loop measured 4,658 tokens/s on one H100 with gradient checkpointing, batch 8);
#   4. the loop on a real model on the GPU: SmolLM2-135M-Instruct trained in bf16 and served by the trainer's own
#      server (llama.cpp here is a CPU build), a handful of goals, a few steps.
# Writes everything under ${OUT:-gpu-check}/ (JSON lines per step); exits non-zero on the first failure.
# Usage: bash scripts/setup-python.sh && bash scripts/setup-models.sh && bash scripts/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-gpu-check}"
mkdir -p "$OUT"
PY=.venv/bin/python
export REFUSENIK_DATA_DIR="${REFUSENIK_DATA_DIR:-../shared/data}"

echo "== 1. environment"
$PY - <<'PY' | tee "$OUT/env.json"
import json, torch
ok = torch.cuda.is_available()
print(json.dumps({"cuda": ok, "device": torch.cuda.get_device_name(0) if ok else None,
                  "bf16": ok and torch.cuda.is_bf16_supported(), "torch": torch.__version__}))
raise SystemExit(0 if ok else 1)
PY

echo "== 2. trainer tests on the GPU"
$PY -m pytest -q trainer/tests 2>&1 | tee "$OUT/pytest.txt"

echo "== 3. training throughput: ours vs stock HF + PEFT (Llama-3-8B architecture, LoRA r 96, bf16)"
(cd trainer && ../$PY bench/gpu_bench.py --steps 20 --warmup 5) | tee "$OUT/gpu_bench.jsonl"

echo "== 4. the loop on SmolLM2-135M-Instruct, trained in bf16 on the GPU"
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent build
./bin/refusenik loop examples/loop-smollm2.yaml --db "$OUT/loop.db" --json \
  --set engine=refusenik --set train.precision=bf16 --set serve.precision=bf16 \
  --set dataset.limit=16 --set helpful.distill.dataset.limit=24 --set train.max_steps=20 \
  --set health.over_refusal.dataset.sample=16 --set health.mmlu=false \
  >"$OUT/loop.json" 2>"$OUT/loop.stderr"
cat "$OUT/loop.json"
echo "gpu-check: all steps passed; results in $OUT/"
