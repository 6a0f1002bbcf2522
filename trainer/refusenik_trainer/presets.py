"""The DeRTa paper's two training recipes (spec §3), as defaults that any command-line flag overrides."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Hyper:
    preset: str
    lr: float
    scheduler: str
    warmup_ratio: float
    weight_decay: float
    epochs: float
    block_size: int
    # The paper's global batch is 128 sequences (8 GPUs x 16, or 8 x 8 x 2 accumulation steps); gradient
    # accumulation is derived from it unless given.
    global_batch_size: int
    micro_batch_size: int
    lora: bool
    lora_r: int = 96
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    max_grad_norm: float = 1.0
    # Share of decoder layers that recompute activations in backward (1.0 = full gradient checkpointing).
    checkpointing: float = 1.0

    def with_overrides(self, overrides: dict[str, Any]) -> "Hyper":
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def grad_accum(self, world_size: int) -> int:
        return max(1, self.global_batch_size // (self.micro_batch_size * max(1, world_size)))


PRESETS: dict[str, Hyper] = {
    # run_clm_llms_derta_llama_drop_5_percent.py: LLaMA3-8B / Mistral-7B, 8 x 16 x 1.
    "full": Hyper(
        preset="full",
        lr=2e-5,
        scheduler="cosine",
        warmup_ratio=0.03,
        weight_decay=2e-5,
        epochs=2,
        block_size=1024,
        global_batch_size=128,
        micro_batch_size=16,
        lora=False,
    ),
    # run_clm_lora_derta_llama.py: LLaMA3-70B / Mixtral-8x7B, 8 x 8 x 2; the scheduler is the HF default.
    "lora": Hyper(
        preset="lora",
        lr=1e-4,
        scheduler="linear",
        warmup_ratio=0.0,
        weight_decay=0.0,
        epochs=2,
        block_size=512,
        global_batch_size=128,
        micro_batch_size=8,
        lora=True,
    ),
}
