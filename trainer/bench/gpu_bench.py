"""Training throughput: a stock HF + PEFT loop against refusenik's training step, side by side, one process.

The issue's target setting: LoRA r=96 on a random-initialised Llama-3-8B architecture, block 1024, bf16.
  stock : model(input_ids, attention_mask, labels) -> full-vocabulary logits + HF loss, full gradient
          checkpointing (batch 8) or none (batch 4), AdamW over the adapters.
  ours  : the same model and optimizer, with the chunked linear + cross-entropy (no 128k-vocabulary logits),
          selective activation checkpointing (--ckpt-fraction) and optionally torch.compile of the decoder layers.
Prints one JSON line per configuration (tokens/s, MFU, peak memory) and a ratio line. Use `--tiny` for a CPU smoke
run of the script itself (numbers meaningless).

  .venv/bin/python trainer/bench/gpu_bench.py --steps 20 --warmup 5
  .venv/bin/python trainer/bench/gpu_bench.py --tiny --steps 2 --warmup 1      # CPU smoke test

MFU convention: model FLOPs per trained token = 4 x (frozen base parameters) + 6 x (trainable parameters) +
attention (12 x layers x hidden x sequence, forward + backward, causal not halved), over the device's dense bf16
peak (--peak-tflops, default 989 for an H100 SXM). Frozen weights need no weight gradient, hence 4 rather than 6;
recomputation from checkpointing is not counted (it is overhead, not model work).
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from refusenik_trainer.chunked_loss import linear_cross_entropy
from refusenik_trainer.model import apply_lora, enable_checkpointing

LLAMA3_8B = dict(
    vocab_size=128256,
    hidden_size=4096,
    intermediate_size=14336,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=8,
    max_position_embeddings=8192,
    rope_theta=500000.0,
    tie_word_embeddings=False,
)
TINY = dict(
    vocab_size=128256,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=2048,
    tie_word_embeddings=False,
)


def build(cfg: dict, device: str, ckpt_fraction: float, compile_layers: bool):
    torch.manual_seed(0)
    config = LlamaConfig(**cfg)
    config.use_cache = False
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    with torch.device(device):
        model = LlamaForCausalLM(config).to(dtype)
    if ckpt_fraction > 0:
        enable_checkpointing(model, ckpt_fraction)
    model = apply_lora(model, r=96, alpha=16, dropout=0.05)
    if compile_layers:
        for layer in model.get_base_model().model.layers:
            layer.compile()
    return model


def batch(cfg: dict, size: int, block: int, device: str):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, cfg["vocab_size"], (size, block), generator=g)
    labels = ids.clone()
    labels[:, : block // 4] = -100  # a masked prompt, as in SFT rows
    return ids.to(device), torch.ones_like(ids).to(device), labels.to(device)


def stock_step(model, ids, mask, labels):
    return model(input_ids=ids, attention_mask=mask, labels=labels).loss


def chunked_step(model, ids, mask, labels):
    base = model.get_base_model()
    hidden = base.model(input_ids=ids, attention_mask=mask).last_hidden_state
    return linear_cross_entropy(hidden, base.lm_head.weight, labels)


def measure(name, model, step_fn, data, steps, warmup, device, flops_per_token, peak_tflops):
    ids, mask, labels = data
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    tokens = ids.numel()  # input tokens per step (no padding in this batch)
    elapsed = 0.0
    losses = []
    for i in range(warmup + steps):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = step_fn(model, ids, mask, labels)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            elapsed += time.perf_counter() - t0
            losses.append(loss.item())
    tps = tokens * steps / elapsed
    out = {
        "config": name,
        "batch": ids.shape[0],
        "block": ids.shape[1],
        "tokens_per_s": round(tps, 1),
        "mfu": round(tps * flops_per_token / (peak_tflops * 1e12), 4),
        "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device == "cuda" else None,
        "loss_first": round(losses[0], 4),
        "loss_last": round(losses[-1], 4),
    }
    print(json.dumps(out), flush=True)
    return out


def model_flops_per_token(model, cfg: dict, block: int) -> float:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    frozen -= cfg["vocab_size"] * cfg["hidden_size"]  # the input embedding is a lookup, not a matmul
    attention = 12 * cfg["num_hidden_layers"] * cfg["hidden_size"] * block
    return 4 * frozen + 6 * trainable + attention


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="a 2-layer model (CPU smoke test of this script)")
    ap.add_argument("--block", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--peak-tflops", type=float, default=989.0)
    ap.add_argument("--ours-batch", type=int, default=8)
    ap.add_argument("--ckpt-fraction", type=float, default=0.5, help="ours: share of layers checkpointed")
    ap.add_argument("--compile", action="store_true", help="ours: torch.compile each decoder layer")
    ap.add_argument("--only", choices=["stock-ckpt", "stock-nockpt", "ours"], action="append")
    args = ap.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = TINY if args.tiny else LLAMA3_8B
    runs = [
        ("stock-ckpt", 8, 1.0, False, stock_step),
        ("stock-nockpt", 4, 0.0, False, stock_step),
        ("ours", args.ours_batch, args.ckpt_fraction, args.compile, chunked_step),
    ]
    results = {}
    for name, bsz, frac, comp, fn in runs:
        if args.only and name not in args.only:
            continue
        model = build(cfg, device, frac, comp)
        fpt = model_flops_per_token(model, cfg, args.block)
        try:
            results[name] = measure(
                name, model, fn, batch(cfg, bsz, args.block, device), args.steps, args.warmup, device, fpt,
                args.peak_tflops,
            )
        except torch.OutOfMemoryError:
            print(json.dumps({"config": name, "batch": bsz, "error": "out of memory"}), flush=True)
        del model
        if device == "cuda":
            torch.cuda.empty_cache()
    if "ours" in results:
        best_stock = max((r["tokens_per_s"] for k, r in results.items() if k.startswith("stock")), default=None)
        if best_stock:
            print(json.dumps({"ratio_ours_vs_best_stock": round(results["ours"]["tokens_per_s"] / best_stock, 3)}))
    print(json.dumps({"device": torch.cuda.get_device_name() if device == "cuda" else "cpu", "torch": torch.__version__}))


if __name__ == "__main__":
    main()
