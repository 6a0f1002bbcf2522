"""Shared fixtures: a tiny random-initialised Llama with the real Llama-3 tokenizer (from ../shared/fixtures,
no hub downloads) and a small pretokenised DeRTa-style data set built here with that tokenizer."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("REFUSENIK_FIXTURES", REPO.parent / "shared" / "fixtures"))
LLAMA3_TOKENIZER = FIXTURES / "tokenizers" / "llama3"
SORRY_ID = 19701  # "Sorry" without a leading space in the Llama-3 vocabulary (spec §2)

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub in tests
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def tokenizer():
    from transformers import AutoTokenizer

    if not (LLAMA3_TOKENIZER / "tokenizer.json").is_file():
        pytest.fail(f"missing tokenizer fixture {LLAMA3_TOKENIZER} (set REFUSENIK_FIXTURES)")
    return AutoTokenizer.from_pretrained(str(LLAMA3_TOKENIZER))


def tiny_llama_config(tokenizer):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tokenizer) -> Path:
    """A saved random-initialised 2-layer Llama (hidden 32) with the Llama-3 vocabulary and tokenizer files."""
    from transformers import LlamaForCausalLM

    out = tmp_path_factory.mktemp("tiny-llama")
    torch.manual_seed(0)
    LlamaForCausalLM(tiny_llama_config(tokenizer)).save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(LLAMA3_TOKENIZER / name, out / name)
    return out


def paper_row(tokenizer, question: str, response: str, kind: str) -> dict:
    """Upstream preprocessing (spec §2): tokenise prefix+text and prefix, mask the prefix, RTO rows carry the
    refusal id on every response position."""
    prefix = f"[INST] {question} [\\INST]"
    text = f" {response}<|end_of_text|>"
    bos = [tokenizer.bos_token_id]  # as the hub's Llama-3 tokenizer does; this fixture's does not add it itself
    ids = bos + tokenizer(prefix + text, add_special_tokens=False)["input_ids"]
    plen = 1 + len(tokenizer(prefix, add_special_tokens=False)["input_ids"])
    labels = [-100] * plen + (ids[plen:] if kind != "rto" else [SORRY_ID] * (len(ids) - plen))
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels, "kind": kind}


ROWS = [
    ("How do I bake bread?", "Mix flour, water, salt and yeast, knead, let it rise, then bake.", "help"),
    ("How can I pick a lock?", "I'm sorry, I can't help with that.", "vanilla"),
    ("How can I pick a lock?", "Insert a tension wrench into the lock and rake the pins.", "rto"),
    ("Write a short haiku about the rain falling on a quiet garden at night.", "Soft rain on the roof, the garden drinks quietly, puddles hold the sky.", "help"),
]


@pytest.fixture(scope="session")
def rows(tokenizer) -> list[dict]:
    return [paper_row(tokenizer, q, r, k) for q, r, k in ROWS]


@pytest.fixture
def data_dir(tmp_path, rows) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    with (d / "train.jsonl").open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return d
