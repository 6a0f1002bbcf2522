"""Command line: `python -m refusenik_trainer train ...`, `... serve ...`, `... import-gguf ...` and `... options`.

`train` writes JSON-lines events to stdout (see progress.py) and everything else to stderr. Exit status: 0 done,
2 bad input (the message names the file, row and field), 1 any other failure, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from .options import PositiveInt

EXIT_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m refusenik_trainer",
        description="DeRTa (Decoupled Refusal Training) trainer and OpenAI-compatible server.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    # `train` is parsed by options.build_train_parser (HfArgumentParser over the option dataclasses, plus
    # TrainingArguments pass-through); main() hands it its argv before this parser sees it. Listed for --help.
    sub.add_parser(
        "train",
        help="fine-tune on pretokenised rows (JSONL/Parquet with input_ids, labels); `train --help` lists the flags",
        add_help=False,
    )

    o = sub.add_parser(
        "options",
        help="the options of `train`: type, default (and each preset's), choices, bounds, help, train.yaml key",
        description="Lists the options of `train` as declared in options.py. --json prints the schema that "
        "src/derta/trainer-options.ts holds (regenerate it with `node scripts/trainer-options.mjs`).",
    )
    o.add_argument("--json", action="store_true", help="the whole schema as JSON")

    sub.add_parser(
        "import-gguf",
        help="a GGUF file -> an HF model folder (dequantised) with a tokenizer that agrees with the model",
        add_help=False,
    )

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
    s.add_argument("--max-new-tokens", type=PositiveInt, default=512, help="default and cap for max_tokens")
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


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        return train_main(argv[1:])
    if argv[:1] == ["import-gguf"]:
        from .gguf_import import import_main

        return import_main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "options":
        return options_main(args.json)
    from .serve import serve_main

    return serve_main(args)


def options_main(as_json: bool) -> int:
    import json

    from .options import option_schema

    schema = option_schema()
    if as_json:
        print(json.dumps(schema, indent=2))
        return 0
    for name, o in schema["options"].items():
        default = o["presets"] if "presets" in o else o.get("default", "(required)")
        where = f"{o['section']}.{o['key']}" if o["section"] in schema["sections"] else (o["key"] or "-")
        print(f"{o['flag']:<24} {o['type']:<8} default {default}  train.yaml: {where}\n    {o['help']}")
    return 0


def train_main(argv: Sequence[str]) -> int:
    from .options import OptionError, build_train_parser, parse_train_args

    if "-h" in argv or "--help" in argv:
        build_train_parser().print_help()  # before stdout is claimed: help is not an event
        return 0
    is_main_process = int(os.environ.get("RANK", "0")) == 0
    writer = _claim_stdout(is_main_process)
    try:
        # Parsed after stdout is claimed: TrainingArguments comes with the heavy imports, whose prints go to stderr.
        opts = parse_train_args(argv)
    except OptionError as e:
        writer.emit("error", kind="input", message=str(e))
        print(f"error: {e}", file=sys.stderr)
        return EXIT_INPUT
    from .data import DataError
    from .train import end_process_group, train

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
