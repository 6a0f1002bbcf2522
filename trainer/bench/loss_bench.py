"""The output head + loss, stock against chunked, side by side in one run (CPU is enough to see the memory story).

stock   : logits = hidden @ W.T for every position (tokens x 128,256 vocabulary, fp32), F.cross_entropy, backward.
chunked : refusenik_trainer.chunked_loss.linear_cross_entropy (a chunk of logits at a time, gradients in the
          forward pass, nothing vocabulary-sized kept for backward).

Each variant runs in its own subprocess so that its peak resident memory (ru_maxrss) is its own; the parent
prints one JSON line per variant, then the ratios, and checks that loss and gradients agree.

  .venv/bin/python trainer/bench/loss_bench.py                      # 1024 tokens, hidden 512, Llama-3 vocabulary
  .venv/bin/python trainer/bench/loss_bench.py --tokens 4096 --hidden 1024
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from refusenik_trainer.chunked_loss import linear_cross_entropy


def inputs(tokens: int, hidden: int, vocab: int, train_head: bool):
    g = torch.Generator().manual_seed(0)
    h = (torch.randn(1, tokens, hidden, generator=g) * 0.5).requires_grad_(True)
    w = (torch.randn(vocab, hidden, generator=g) * hidden**-0.5).requires_grad_(train_head)
    labels = torch.randint(0, vocab, (1, tokens), generator=g)
    labels[:, : tokens // 4] = -100  # a masked prompt, as in every DeRTa row
    return h, w, labels


def run_variant(variant: str, args) -> dict:
    h, w, labels = inputs(args.tokens, args.hidden, args.vocab, args.train_head)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(args.repeats):
        h.grad = None
        w.grad = None
        t0 = time.perf_counter()
        if variant == "stock":
            logits = (h[:, :-1] @ w.t()).float()
            loss = F.cross_entropy(logits.reshape(-1, args.vocab), labels[:, 1:].reshape(-1), ignore_index=-100)
        else:
            loss = linear_cross_entropy(h, w, labels, chunk_size=args.chunk)
        loss.backward()
        times.append(time.perf_counter() - t0)
        del loss
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {
        "variant": variant,
        "seconds": min(times),
        "peak_rss_mb": round(peak / 1024, 1),
        "rss_growth_mb": round((peak - base_rss) / 1024, 1),
    }
    if args.dump:
        torch.save({"grad_h": h.grad, "grad_w": w.grad}, args.dump)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokens", type=int, default=1024)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--vocab", type=int, default=128256)
    p.add_argument("--chunk", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--train-head", action="store_true", help="the head trains too (full fine-tune)")
    p.add_argument("--variant", choices=["stock", "chunked"], help=argparse.SUPPRESS)
    p.add_argument("--dump", help=argparse.SUPPRESS)
    args = p.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))

    if args.variant:  # child process
        print(json.dumps(run_variant(args.variant, args)))
        return

    forwarded = [a for a in sys.argv[1:]]
    results = {}
    for variant in ("stock", "chunked"):
        dump = f"/tmp/refusenik-loss-bench-{variant}.pt"
        line = subprocess.run(
            [sys.executable, __file__, *forwarded, "--variant", variant, "--dump", dump],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        results[variant] = json.loads(line)
        results[variant]["grads"] = torch.load(dump)
    s, c = results["stock"], results["chunked"]
    gh = (s["grads"]["grad_h"] - c["grads"]["grad_h"]).abs().max().item()
    for r in (s, c):
        r.pop("grads")
        print(json.dumps({**r, "tokens": args.tokens, "hidden": args.hidden, "vocab": args.vocab}))
    print(
        json.dumps(
            {
                "time_ratio_chunked_over_stock": round(c["seconds"] / s["seconds"], 2),
                "rss_growth_ratio_chunked_over_stock": round(c["rss_growth_mb"] / max(s["rss_growth_mb"], 1e-9), 3),
                "max_abs_grad_hidden_diff": gh,
            }
        )
    )


if __name__ == "__main__":
    main()
