"""Loading the model to train: from a checkpoint folder, or random-initialised from its config; LoRA wrapping
and activation checkpointing."""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedModel

# The paper's LoRA runs adapt every attention and MLP projection. Llama, Mistral and Qwen name them
# q/k/v/o_proj and gate/up/down_proj; Mixtral's experts use w1/w2/w3 (its router, `gate`, stays frozen).
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "w1", "w2", "w3")


def load_model(
    path: str,
    *,
    random_init: bool = False,
    dtype: torch.dtype = torch.float32,
    attn_implementation: str | None = None,
) -> PreTrainedModel:
    """A causal LM from a folder (or hub name, where the hub is reachable). `random_init` builds the
    architecture from `config.json` alone with fresh weights (seed first): used for tests and benchmarks."""
    kwargs = {"attn_implementation": attn_implementation} if attn_implementation else {}
    if random_init:
        config = AutoConfig.from_pretrained(path)
        model = AutoModelForCausalLM.from_config(config, dtype=dtype, **kwargs)
    else:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, **kwargs)
    model.config.use_cache = False  # the KV cache is for generation; training with it only wastes memory
    return model


def lora_target_names(model: nn.Module, wanted: Iterable[str] = LORA_TARGETS) -> list[str]:
    """The subset of `wanted` module names that exist as linear layers in this model, so the PEFT config lists
    only real targets (and an architecture with none of them fails here, by name, not deep inside PEFT)."""
    wanted = set(wanted)
    found = {name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    present = sorted(wanted & found)
    if not present:
        raise ValueError(
            f"none of the LoRA target modules {sorted(wanted)} exist in this model; linear layers are named: "
            f"{', '.join(sorted(found)) or '(none)'}"
        )
    return present


def apply_lora(model: PreTrainedModel, r: int, alpha: int, dropout: float, targets: Iterable[str] | None = None):
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=lora_target_names(model, targets or LORA_TARGETS),
        bias="none",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def enable_checkpointing(model: PreTrainedModel, fraction: float = 1.0) -> int:
    """Activation checkpointing on a share of the decoder layers; returns how many layers recompute.

    fraction 1.0 is ordinary full gradient checkpointing. A smaller fraction ("selective" checkpointing) trades
    memory for speed: only every k-th layer recomputes its activations in the backward pass, the others keep
    them, so less of the forward pass runs twice. Non-reentrant checkpointing, so frozen embeddings (LoRA) need
    no `enable_input_require_grads` workaround.
    """
    if fraction <= 0:
        return 0
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    layers = [m for m in model.modules() if getattr(m, "gradient_checkpointing", None) is not None and _is_layer(m)]
    if not layers:
        return 0
    keep = max(1, round(len(layers) * min(fraction, 1.0)))
    # Spread the checkpointed layers evenly over the depth.
    chosen = {round(i * len(layers) / keep) for i in range(keep)}
    for i, layer in enumerate(layers):
        layer.gradient_checkpointing = i in chosen
    return sum(1 for layer in layers if layer.gradient_checkpointing)


def _is_layer(m: nn.Module) -> bool:
    from transformers.modeling_layers import GradientCheckpointingLayer

    return isinstance(m, GradientCheckpointingLayer)


def pad_token_id(model: PreTrainedModel) -> int:
    """Right padding is masked out of attention and labels, so any valid id works; prefer the model's own."""
    for candidate in (model.config.pad_token_id, model.config.eos_token_id):
        if isinstance(candidate, list):
            candidate = candidate[0] if candidate else None
        if isinstance(candidate, int) and 0 <= candidate < model.config.vocab_size:
            return candidate
    return 0
