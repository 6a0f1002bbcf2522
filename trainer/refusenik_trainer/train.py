"""`python -m refusenik_trainer train`: fine-tune a causal LM on pretokenised DeRTa rows with HF Trainer.

The pieces: presets.py (the paper's two recipes), data.py (rows, validation, padding), model.py (loading, LoRA,
activation checkpointing), objectives/ (the losses `--objective` picks: mle, constrained), chunked_loss.py (the
memory-light head + loss), progress.py (JSON-lines events).
This module wires them into a `transformers.Trainer`; launch it with plain `python`, `torchrun` or
`accelerate launch` (the Trainer reads the distributed environment those set up).
"""

from __future__ import annotations

import inspect
import json
import math
import os
import shutil
import warnings
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import torch
from transformers import AutoConfig, PrinterCallback, Trainer, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from .data import PretokenizedDataset, RightPadCollator, load_examples, resolve_data_file
from .model import apply_lora, enable_checkpointing, load_model, pad_token_id
from .objectives import OBJECTIVES, LossFn
from .options import OptionError, TrainOptions
from .presets import PRESETS, Hyper
from .progress import EventWriter, ProgressCallback


def resolve_precision(choice: str) -> str:
    """bf16 where the GPU supports it (Ampere and newer), as the paper trained; fp32 on CPU, where bf16 autocast
    exists but is slow and the reason to use it (GPU memory) is absent."""
    if choice != "auto":
        return choice
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp32"


def find_resume_checkpoint(output_dir: str, resume: str) -> str | None:
    if resume == "never":
        return None
    if resume == "auto":
        return get_last_checkpoint(output_dir) if os.path.isdir(output_dir) else None
    if not os.path.isdir(resume):
        raise OptionError(f"--resume {resume}: no such checkpoint folder")
    return resume


def unrolled_epochs(data: str) -> int:
    """How many epochs the data builder already unrolled into the file (its `--rto-keep` resamples the RTO
    targets once per epoch, so the file holds every epoch and should be read once); 1 when not said."""
    stats = resolve_data_file(data).parent / "stats.json"
    try:
        value = json.loads(stats.read_text(encoding="utf-8")).get("epochs_unrolled")
    except (OSError, ValueError, AttributeError):
        return 1
    return value if isinstance(value, int) and value > 1 else 1


class DertaTrainer(Trainer):
    """HF Trainer whose loss is the objective's (objectives/): the stock cross-entropy, or a loss of its own
    (the chunked one that skips the full-vocabulary logits, the constrained objective).

    The MLE loss is the upstream one either way: one mean cross-entropy over every labelled token of the whole
    optimizer step (the Trainer's `num_items_in_batch`), so helpfulness, harmful-prefix and RTO tokens pool at
    token level as in the paper.
    """

    def __init__(self, *args: Any, loss_fn: Optional[LossFn] = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.loss_fn = loss_fn
        if loss_fn is not None:
            # Our loss divides by num_items_in_batch itself, so the Trainer must not divide by the accumulation.
            self.model_accepts_loss_kwargs = True

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if self.loss_fn is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        loss, outputs = self.loss_fn(self, model, inputs, num_items_in_batch)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            # num_items_in_batch counts every process's tokens and DDP averages gradients over processes.
            loss = loss * self.accelerator.num_processes
        return (loss, outputs) if return_outputs else loss


def chunked_loss_supported(model: torch.nn.Module, opts: TrainOptions) -> tuple[bool, str]:
    """The chunked loss needs the whole head weight on every process (not ZeRO-3 / FSDP sharded), a plain
    linear head (no logit soft-capping or scaling) and a forward that takes `logits_to_keep`."""
    if opts.deepspeed or opts.fsdp:
        return False, "sharded weights (DeepSpeed / FSDP)"
    cfg = model.config
    if getattr(cfg, "final_logit_softcapping", None) or getattr(cfg, "logit_scale", None):
        return False, "the model scales its logits"
    if "logits_to_keep" not in inspect.signature(model.forward).parameters:
        return False, "the model's forward has no logits_to_keep"
    if model.get_output_embeddings() is None:
        return False, "the model has no output head"
    return True, ""


def train(opts: TrainOptions, writer: EventWriter) -> dict[str, Any]:
    """Runs training to the end; returns the summary that the `done` event carries."""
    if opts.preset not in PRESETS:
        raise OptionError(f"--preset {opts.preset}: expected one of {', '.join(PRESETS)}")
    hyper: Hyper = PRESETS[opts.preset].with_overrides(opts.overrides)
    epochs_in_file = unrolled_epochs(opts.data)
    if epochs_in_file > 1:
        # Epochs always count passes over the original rows; a file holding 2 epochs is read once for 2.
        hyper = hyper.with_overrides({"epochs": hyper.epochs / epochs_in_file})
    precision = resolve_precision(opts.precision)

    # transformers' own token counting trips this torch warning on every step; it is noise for the user.
    warnings.filterwarnings("ignore", message="To copy construct from a tensor")
    set_seed(opts.seed)
    # Weights stay fp32 under mixed precision (autocast computes in bf16/fp16); a LoRA run can keep the frozen
    # base in bf16 to halve its memory, since only the adapters need fp32 master weights.
    load_dtype = torch.bfloat16 if (hyper.lora and precision == "bf16") else torch.float32
    # The data is read (and validated) before the weights load: a bad row should not wait for a 16 GB load.
    try:
        vocab_size = AutoConfig.from_pretrained(opts.model).vocab_size
    except OSError as e:  # a missing folder, a missing config.json, an unreachable hub
        raise OptionError(f"--model {opts.model}: cannot load it: {str(e).splitlines()[0]}") from None
    examples, load_stats = load_examples(opts.data, hyper.block_size, vocab_size)
    model = load_model(
        opts.model, random_init=opts.random_init, dtype=load_dtype, attn_implementation=opts.attn_implementation
    )

    checkpointed = 0
    if hyper.checkpointing > 0:
        checkpointed = enable_checkpointing(model, hyper.checkpointing)
    objective = OBJECTIVES.get(opts.objective)
    if objective is None:
        raise OptionError(f"--objective {opts.objective}: expected {' or '.join(OBJECTIVES)}")
    objective.check(opts, hyper)
    use_chunked, why_not = chunked_loss_supported(model, opts)
    if objective.full_logits:
        use_chunked = False
    if opts.loss == "stock":
        use_chunked = False
    elif opts.loss == "chunked" and not use_chunked:
        raise OptionError(f"--loss chunked is not possible here: {why_not}")
    if hyper.lora:
        model = apply_lora(model, hyper.lora_r, hyper.lora_alpha, hyper.lora_dropout)

    base_args = dict(
        output_dir=opts.output_dir,
        per_device_train_batch_size=hyper.micro_batch_size,
        gradient_accumulation_steps=1,  # set below, once the world size is known
        learning_rate=hyper.lr,
        lr_scheduler_type=hyper.scheduler,
        warmup_ratio=hyper.warmup_ratio,
        weight_decay=hyper.weight_decay,
        num_train_epochs=hyper.epochs,
        max_steps=opts.max_steps,
        max_grad_norm=hyper.max_grad_norm,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        group_by_length=opts.group_by_length,
        logging_steps=opts.logging_steps,
        save_strategy="steps",
        save_steps=opts.save_steps,
        save_total_limit=opts.save_total_limit,
        seed=opts.seed,
        data_seed=opts.seed,
        report_to="none",
        disable_tqdm=True,
        remove_unused_columns=False,
        include_num_input_tokens_seen="non_padding",
        deepspeed=opts.deepspeed,
        fsdp=opts.fsdp or "",
        fsdp_config=opts.fsdp_config,
        torch_compile=opts.torch_compile,
        dataloader_num_workers=opts.dataloader_workers,
        dataloader_pin_memory=torch.cuda.is_available(),
        use_cpu=opts.use_cpu,
        log_level="warning",
    )
    # TrainingArguments fields given on the command line (only those) go over ours; see options.py.
    try:
        args = TrainingArguments(**{**base_args, **opts.training_args})
    except (TypeError, ValueError) as e:
        if not opts.training_args:
            raise
        given = " ".join(f"--{k}" for k in opts.training_args)
        raise OptionError(f"TrainingArguments rejected the fields given ({given}): {e}") from None
    args.gradient_accumulation_steps = hyper.grad_accum(args.world_size)

    start_info = {
        "preset": hyper.preset,
        "hyper": asdict(hyper),
        "gradient_accumulation_steps": args.gradient_accumulation_steps,
        "global_batch_size": hyper.micro_batch_size * args.gradient_accumulation_steps * args.world_size,
        "precision": precision,
        "loss": "chunked" if use_chunked else "stock",
        "objective": opts.objective,
        **objective.start_info(opts),
        "checkpointed_layers": checkpointed,
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "data": load_stats.as_dict(),
        "epochs_unrolled_in_data": epochs_in_file,
        "device": str(args.device),
        # The passed-through TrainingArguments fields as the Trainer has them.
        **({"training_args": {k: _plain(getattr(args, k)) for k in opts.training_args}} if opts.training_args else {}),
    }
    trainer = DertaTrainer(
        model=model,
        args=args,
        train_dataset=PretokenizedDataset(examples),
        data_collator=RightPadCollator(pad_token_id(model)),
        callbacks=[ProgressCallback(writer, start_info)],
        loss_fn=objective.loss(opts, use_chunked),
    )
    trainer.remove_callback(PrinterCallback)  # it prints Python dicts; the JSON events replace it
    resume_from = find_resume_checkpoint(opts.output_dir, opts.resume)
    if resume_from:
        writer.emit("resume", path=resume_from)
    result = trainer.train(resume_from_checkpoint=resume_from)

    final_dir = opts.output_dir
    trainer.save_model(final_dir)
    if trainer.is_world_process_zero():
        save_tokenizer(opts.tokenizer or (None if opts.random_init else opts.model), final_dir)
        if hyper.lora and opts.random_init:
            save_random_base(trainer.model, final_dir)
    summary = {
        "step": trainer.state.global_step,
        "train_loss": result.training_loss if math.isfinite(result.training_loss) else None,
        "tokens": trainer.state.num_input_tokens_seen,
        "runtime_s": round(result.metrics.get("train_runtime", 0.0), 3),
        "output_dir": final_dir,
        "adapter": hyper.lora,
    }
    writer.emit("done", **summary)
    return summary


def _plain(value: Any) -> Any:
    """A TrainingArguments value as JSON can carry it (enums by value, anything odd as text)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def end_process_group(clean: bool) -> None:
    """Tears torch.distributed down before the interpreter exits: a live gloo group's threads otherwise abort
    the process at exit ("terminate called without an active exception", SIGABRT) now and then. After a clean
    run the ranks meet first, so none leaves while another is still saving."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return
    if clean:
        torch.distributed.barrier()
    torch.distributed.destroy_process_group()


def save_random_base(peft_model, out_dir: str) -> None:
    """A LoRA adapter over random-initialised weights is useless without those weights: save them to
    `<out>/base-model` and point the adapter at them, so `serve` can load the result (smoke tests)."""
    base_dir = Path(out_dir) / "base-model"
    peft_model.unload().save_pretrained(base_dir)  # drops the LoRA layers without merging them
    cfg_path = Path(out_dir) / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["base_model_name_or_path"] = str(base_dir.resolve())
    cfg_path.write_text(json.dumps(cfg, indent=2), encoding="utf-8")


def save_tokenizer(source: str | None, out_dir: str) -> None:
    """Puts the tokenizer (and with it the chat template) next to the weights, so `serve` and vLLM can load the
    folder on its own. Copies the files rather than re-saving, which keeps them byte-identical."""
    if not source:
        return
    src = Path(source)
    if src.is_file():
        src = src.parent
    if not src.is_dir():
        return
    for name in (
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "tokenizer.model",
        "chat_template.jinja",
        "generation_config.json",
    ):
        if (src / name).is_file() and not (Path(out_dir) / name).exists():
            shutil.copyfile(src / name, Path(out_dir) / name)
