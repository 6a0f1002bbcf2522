"""`python -m refusenik_trainer import-gguf`: a GGUF file -> an HF model folder the trainer, the server and the
data builder can read, with a tokenizer that agrees with the model.

transformers' own GGUF loader dequantises the weights and rebuilds the tokenizer, but the rebuilt tokenizer can
name the wrong special tokens (SmolLM2-135M-Instruct comes out with `<|im_start|>` as its EOS while the model
ends its turns with `<|im_end|>`, id 2), and the chat template only lands where one version of transformers
looks for it. Here the special tokens are set from the GGUF's own ids (`tokenizer.ggml.{bos,eos,...}_token_id`,
the ids llama.cpp stops on), the chat template is written both ways readers look for it (`chat_template` in
tokenizer_config.json and `chat_template.jinja`), and the result is checked: EOS equals config.json's
eos_token_id, and the template renders.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

SPECIAL = ("bos", "eos", "unknown", "padding", "eot")


class ImportError_(ValueError):  # noqa: N801 - a bad input file (exit status 2)
    """The GGUF cannot be turned into a consistent HF folder; the message says why."""


def gguf_metadata(path: Path) -> dict[str, Any]:
    """The GGUF's tokenizer facts: special-token ids, the chat template, the architecture."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))

    def value(key: str) -> Any:
        f = reader.fields.get(key)
        if f is None:
            return None
        v = f.contents()
        return v

    meta: dict[str, Any] = {
        "architecture": value("general.architecture"),
        "name": value("general.name"),
        "chat_template": value("tokenizer.chat_template"),
        "add_bos_token": value("tokenizer.ggml.add_bos_token"),
    }
    for s in SPECIAL:
        meta[f"{s}_token_id"] = value(f"tokenizer.ggml.{s}_token_id")
    return meta


def import_gguf(gguf: Path, out: Path, dtype: str = "float32") -> dict[str, Any]:
    """Writes `out` (config.json, model.safetensors, tokenizer files, chat_template.jinja); returns a summary."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = gguf.resolve()
    if not gguf.is_file():
        raise ImportError_(f"{gguf}: no such file")
    meta = gguf_metadata(gguf)
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch_dtype)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)

    fixed: dict[str, str] = {}
    vocab_size = len(tok)
    for s, attr in (("bos", "bos_token"), ("eos", "eos_token"), ("unknown", "unk_token"), ("padding", "pad_token")):
        token_id = meta.get(f"{s}_token_id")
        if not isinstance(token_id, int) or not 0 <= token_id < vocab_size:
            continue
        piece = tok.convert_ids_to_tokens(token_id)
        if getattr(tok, attr) != piece:
            fixed[attr] = f"{getattr(tok, attr)!r} -> {piece!r}"
            setattr(tok, attr, piece)
    eot = meta.get("eot_token_id")
    if isinstance(eot, int) and 0 <= eot < vocab_size and tok.convert_ids_to_tokens(eot) != tok.eos_token:
        # The end-of-turn token is what a chat model stops on; generation stops on both.
        fixed["eos_token"] = f"{tok.eos_token!r} -> {tok.convert_ids_to_tokens(eot)!r} (end of turn)"
        tok.eos_token = tok.convert_ids_to_tokens(eot)
    if meta.get("add_bos_token") is False and getattr(tok, "add_bos_token", False):
        # llama.cpp adds no BOS for this model (its chat template writes the first special token itself).
        tok.add_bos_token = False
        fixed["add_bos_token"] = "True -> False"
    template = meta.get("chat_template")
    if isinstance(template, str) and template.strip():
        tok.chat_template = template

    eos_id = tok.convert_tokens_to_ids(tok.eos_token)
    model.config.eos_token_id = eos_id
    if tok.bos_token is not None:
        model.config.bos_token_id = tok.convert_tokens_to_ids(tok.bos_token)
    model.generation_config.eos_token_id = eos_id
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model.config.pad_token_id = tok.convert_tokens_to_ids(tok.pad_token)
    model.generation_config.pad_token_id = model.config.pad_token_id

    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    _template_everywhere(tmp, tok.chat_template)
    summary = check_folder(tmp)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return {**summary, "out": str(out), "fixed": fixed, "gguf": str(gguf), "architecture": meta["architecture"]}


def _template_everywhere(folder: Path, template: str | None) -> None:
    """Readers look for the chat template in tokenizer_config.json (transformers < 4.43 style, vLLM, TGI,
    transformers.js) or in chat_template.jinja (transformers >= 4.50): write both, the same text."""
    if not template:
        return
    (folder / "chat_template.jinja").write_text(template, encoding="utf-8")
    cfg_file = folder / "tokenizer_config.json"
    cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
    cfg["chat_template"] = template
    cfg_file.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def check_folder(folder: Path) -> dict[str, Any]:
    """The folder's tokenizer and config agree: EOS is config.json's eos_token_id, the template renders and
    ends the assistant turn with the EOS token. Raises ImportError_ naming what disagrees."""
    from transformers import AutoConfig, AutoTokenizer

    cfg = AutoConfig.from_pretrained(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    eos_id = tok.convert_tokens_to_ids(tok.eos_token)
    cfg_eos = cfg.eos_token_id[0] if isinstance(cfg.eos_token_id, list) else cfg.eos_token_id
    if eos_id != cfg_eos:
        raise ImportError_(
            f"{folder}: the tokenizer's EOS {tok.eos_token!r} (id {eos_id}) is not config.json's eos_token_id {cfg_eos}"
        )
    summary: dict[str, Any] = {
        "vocab_size": len(tok),
        "eos_token": tok.eos_token,
        "eos_token_id": eos_id,
        "bos_token": tok.bos_token,
        "chat_template": bool(tok.chat_template),
    }
    if tok.chat_template:
        text = tok.apply_chat_template(
            [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}], tokenize=False
        )
        if tok.eos_token not in text:
            raise ImportError_(
                f"{folder}: the chat template does not end the assistant turn with the EOS token {tok.eos_token!r}"
            )
    return summary


def import_main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m refusenik_trainer import-gguf", description=__doc__.split("\n\n")[0])
    p.add_argument("gguf", help="the .gguf file")
    p.add_argument("--out", required=True, help="the HF folder to write (replaced if it exists)")
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
    args = p.parse_args(argv)
    try:
        summary = import_gguf(Path(args.gguf), Path(args.out), args.dtype)
    except ImportError_ as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0
