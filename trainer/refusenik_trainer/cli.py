"""Command line: `python -m refusenik_trainer train ...` and `python -m refusenik_trainer serve ...`.

`train` writes JSON-lines events to stdout (see progress.py) and everything else to stderr. Exit status: 0 done,
2 bad input (the message names the file, row and field), 1 any other failure, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from .presets import PRESETS

EXIT_INPUT = 2


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text}: expected a number in [0, 1]")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: expected a positive integer")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m refusenik_trainer",
        description="DeRTa (Decoupled Refusal Training) trainer and OpenAI-compatible server.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser(
        "train",
        help="fine-tune on pretokenised rows (JSONL/Parquet with input_ids, labels)",
        description="Full fine-tune or LoRA on rows written by `refusenik derta build`. Presets follow the paper: "
        "full = lr 2e-5 cosine, warmup 0.03, wd 2e-5, 2 epochs, block 1024; lora = r 96, alpha 16, dropout 0.05 "
        "on every attention and MLP projection, lr 1e-4 linear, block 512. Both use a global batch of 128.",
    )
    t.add_argument("--model", required=True, help="model folder (or hub name) to start from")
    t.add_argument("--data", required=True, help="train.jsonl / train.parquet, or the folder holding it")
    t.add_argument("--output-dir", required=True, help="checkpoints and the final model (or adapter) go here")
    t.add_argument("--preset", choices=sorted(PRESETS), default="full", help="paper recipe (default: full)")
    t.add_argument(
        "--random-init", action="store_true", help="fresh weights from the model's config.json (tests, benchmarks)"
    )
    t.add_argument("--tokenizer", help="tokenizer folder to save with the result (default: the model's)")
    hp = t.add_argument_group("hyper-parameters (default: the preset's)")
    hp.add_argument("--lr", type=float, help="peak learning rate (full 2e-5, lora 1e-4)")
    hp.add_argument("--scheduler", help="HF scheduler name: cosine, linear, constant, ... (full cosine, lora linear)")
    hp.add_argument("--warmup-ratio", type=float, help="share of steps warming up (full 0.03, lora 0)")
    hp.add_argument("--weight-decay", type=float, help="AdamW weight decay (full 2e-5, lora 0)")
    hp.add_argument("--epochs", type=float, help="passes over the data (2)")
    hp.add_argument("--block-size", type=_positive_int, help="longer rows are truncated, as upstream")
    hp.add_argument("--global-batch-size", type=_positive_int, help="sequences per optimizer step (paper: 128)")
    hp.add_argument("--micro-batch-size", type=_positive_int, help="sequences per device per forward pass")
    hp.add_argument("--lora-r", type=_positive_int, help="LoRA rank (96)")
    hp.add_argument("--lora-alpha", type=_positive_int, help="LoRA alpha (16)")
    hp.add_argument("--lora-dropout", type=_fraction, help="LoRA dropout (0.05)")
    hp.add_argument("--max-grad-norm", type=float, help="gradient clipping (1.0)")
    hp.add_argument(
        "--checkpointing",
        type=_fraction,
        help="share of decoder layers that recompute activations (1 = full gradient checkpointing, 0 = off)",
    )
    run = t.add_argument_group("run")
    run.add_argument("--max-steps", type=int, default=-1, help="stop after this many optimizer steps")
    run.add_argument("--seed", type=int, default=1, help="paper: 1")
    run.add_argument(
        "--precision", choices=["auto", "bf16", "fp16", "fp32"], default="auto", help="auto: bf16 where supported"
    )
    run.add_argument(
        "--loss",
        choices=["auto", "chunked", "stock"],
        default="auto",
        help="chunked: head + cross-entropy in chunks, never the full-vocabulary logits (auto: when possible)",
    )
    run.add_argument(
        "--no-group-by-length",
        dest="group_by_length",
        action="store_false",
        help="plain random batches (default: batches of similar length, less padding)",
    )
    run.add_argument("--save-steps", type=_positive_int, default=200, help="checkpoint every n steps")
    run.add_argument("--save-total-limit", type=_positive_int, default=3, help="checkpoints kept")
    run.add_argument("--logging-steps", type=_positive_int, default=10, help="a step event every n steps")
    run.add_argument(
        "--resume", default="auto", help="auto (latest checkpoint in --output-dir), never, or a checkpoint folder"
    )
    run.add_argument("--deepspeed", help="DeepSpeed JSON config (see trainer/configs/)")
    run.add_argument("--fsdp", help='FSDP mode, e.g. "full_shard auto_wrap"')
    run.add_argument("--fsdp-config", help="FSDP JSON config")
    run.add_argument("--torch-compile", action="store_true", help="torch.compile the model")
    run.add_argument("--attn-implementation", help="eager, sdpa or flash_attention_2")
    run.add_argument("--dataloader-workers", type=int, default=0, help="data loading processes")
    run.add_argument("--cpu", dest="use_cpu", action="store_true", help="train on the CPU even with a GPU")
    obj = t.add_argument_group("objective")
    obj.add_argument(
        "--objective",
        choices=["mle", "constrained"],
        default="mle",
        help="mle: cross-entropy on the labels (DeRTa); constrained: Qi et al. 2024 token-wise constrained "
        "objective against the frozen base (LoRA only)",
    )
    obj.add_argument("--beta-first", type=float, default=0.5, help="constrained: beta of the first response token")
    obj.add_argument("--beta-early", type=float, default=2.0, help="constrained: beta of tokens 2..--early-tokens")
    obj.add_argument("--beta-rest", type=float, default=0.1, help="constrained: beta of later tokens")
    obj.add_argument("--early-tokens", type=_positive_int, default=5, help="constrained: last early position (5)")

    s = sub.add_parser(
        "serve",
        help="minimal OpenAI-compatible server (chat + completions) over HF generate",
        description="Serves a model folder, or a LoRA adapter folder over its base, at /v1/chat/completions and "
        "/v1/completions (with SSE streaming). One request at a time; use vLLM for throughput (docs/training.md).",
    )
    s.add_argument("--model", required=True, help="model folder, or a LoRA adapter folder (adapter_config.json)")
    s.add_argument("--base-model", help="base model for an adapter (default: the adapter's base_model_name_or_path)")
    s.add_argument("--tokenizer", help="tokenizer folder (default: the model folder, else the base model's)")
    s.add_argument("--name", help="model name reported by /v1/models (default: the folder name)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    s.add_argument("--port", type=int, default=8000, help="0 picks a free port (printed on stdout)")
    s.add_argument("--precision", choices=["auto", "bf16", "fp16", "fp32"], default="auto")
    s.add_argument("--max-new-tokens", type=_positive_int, default=512, help="default and cap for max_tokens")
    s.add_argument("--chat-template", help="Jinja file overriding the tokenizer's chat template")
    s.add_argument("--api-key", help="require this bearer token (default: $REFUSENIK_SERVE_API_KEY, else none)")
    s.add_argument(
        "--reset-token",
        help="a backtracking model's reset token (e.g. <|reserved_special_token_0|>): answers are the text after "
        "the last one, and streams are sent whole once generation ends",
    )
    s.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="exit when stdin closes (a parent that dies, even by SIGKILL, takes the server with it)",
    )
    return parser


HYPER_FLAGS = (
    "lr",
    "scheduler",
    "warmup_ratio",
    "weight_decay",
    "epochs",
    "block_size",
    "global_batch_size",
    "micro_batch_size",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "max_grad_norm",
    "checkpointing",
)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from .serve import serve_main

        return serve_main(args)
    return train_main(args)


def train_main(args: argparse.Namespace) -> int:
    is_main_process = int(os.environ.get("RANK", "0")) == 0
    writer = _claim_stdout(is_main_process)
    # Heavy imports after stdout is claimed, so anything they print lands on stderr.
    from .data import DataError
    from .constrained import BetaSchedule
    from .train import OptionError, TrainOptions, end_process_group, train

    opts = TrainOptions(
        model=args.model,
        data=args.data,
        output_dir=args.output_dir,
        preset=args.preset,
        random_init=args.random_init,
        tokenizer=args.tokenizer,
        overrides={k: getattr(args, k) for k in HYPER_FLAGS},
        max_steps=args.max_steps,
        seed=args.seed,
        precision=args.precision,
        loss=args.loss,
        group_by_length=args.group_by_length,
        save_steps=args.save_steps,
        save_total_limit=args.save_total_limit,
        logging_steps=args.logging_steps,
        resume=args.resume,
        deepspeed=args.deepspeed,
        fsdp=args.fsdp,
        fsdp_config=args.fsdp_config,
        torch_compile=args.torch_compile,
        attn_implementation=args.attn_implementation,
        dataloader_workers=args.dataloader_workers,
        use_cpu=args.use_cpu,
        objective=args.objective,
        beta=BetaSchedule(args.beta_first, args.beta_early, args.beta_rest, args.early_tokens),
    )
    clean = False
    try:
        train(opts, writer)
        clean = True
        return 0
    except KeyboardInterrupt:
        writer.emit("interrupted")
        return 130
    except (DataError, OptionError) as e:
        writer.emit("error", kind="input", message=str(e))
        print(f"error: {e}", file=sys.stderr)
        return EXIT_INPUT
    except Exception as e:  # noqa: BLE001 - reported as an event, with the traceback on stderr
        import traceback

        traceback.print_exc()
        writer.emit("error", kind="runtime", message=f"{type(e).__name__}: {e}")
        return 1
    finally:
        end_process_group(clean)


def _claim_stdout(enabled: bool):
    from .progress import EventWriter

    return EventWriter.claim_stdout(enabled)
