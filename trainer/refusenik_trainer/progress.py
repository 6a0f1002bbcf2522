"""JSON-lines progress on stdout, one object per line, for `refusenik train` (or any script) to read.

Events: `start`, `step`, `eval`, `save`, `done`, `interrupted`, `error`. stdout carries nothing else: the
trainer moves file descriptor 1 to stderr for everything that is not an event (library prints, warnings,
C-level output), and only the main process (rank 0) writes events.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import IO, Any

from transformers import TrainerCallback


class EventWriter:
    """Writes events to the process's original stdout; everything printed after `claim_stdout` goes to stderr."""

    def __init__(self, stream: IO[str] | None = None, enabled: bool = True):
        self.stream = stream
        self.enabled = enabled

    @classmethod
    def claim_stdout(cls, enabled: bool = True) -> "EventWriter":
        sys.stdout.flush()
        events_fd = os.dup(1)
        os.dup2(2, 1)  # fd 1 (and sys.stdout, which writes to it) now goes to stderr
        return cls(os.fdopen(events_fd, "w", buffering=1, encoding="utf-8"), enabled)

    def emit(self, event: str, **fields: Any) -> None:
        if not self.enabled or self.stream is None:
            return
        record = {"event": event, **{k: _clean(v) for k, v in fields.items()}}
        self.stream.write(json.dumps(record, separators=(",", ":")) + "\n")
        self.stream.flush()


def _clean(v: Any) -> Any:
    """JSON has no NaN or infinity; report them as null rather than emitting invalid JSON."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item") and callable(v.item):  # 0-d tensors and numpy scalars
        return _clean(v.item())
    return v


class ProgressCallback(TrainerCallback):
    """Turns the Trainer's callbacks into events; tokens/s counts non-padding input tokens over all processes
    (the Trainer's `num_input_tokens_seen`, which survives a resume)."""

    def __init__(self, writer: EventWriter, start_info: dict[str, Any]):
        self.writer = writer
        self.start_info = start_info
        self.started = 0.0
        self.last_time = 0.0
        self.last_tokens = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = self.last_time = time.perf_counter()
        self.last_tokens = state.num_input_tokens_seen
        self.writer.emit(
            "start",
            step=state.global_step,
            max_steps=state.max_steps,
            epochs=args.num_train_epochs,
            world_size=args.world_size,
            **self.start_info,
        )

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" not in logs:
            return  # eval metrics and the final summary have their own events
        now = time.perf_counter()
        tokens = state.num_input_tokens_seen
        dt = now - self.last_time
        rate = (tokens - self.last_tokens) / dt if dt > 0 else None
        self.last_time, self.last_tokens = now, tokens
        self.writer.emit(
            "step",
            step=state.global_step,
            max_steps=state.max_steps,
            epoch=round(state.epoch or 0.0, 4),
            loss=logs.get("loss"),
            lr=logs.get("learning_rate"),
            grad_norm=logs.get("grad_norm"),
            tokens=tokens,
            tokens_per_s=round(rate, 1) if rate is not None else None,
            elapsed_s=round(now - self.started, 3),
        )

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        metrics = metrics or {}
        self.writer.emit(
            "eval", step=state.global_step, eval_loss=metrics.get("eval_loss"), metrics=_plain(metrics)
        )

    def on_save(self, args, state, control, **kwargs):
        path = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        self.writer.emit("save", step=state.global_step, path=path)


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _clean(v) for k, v in d.items() if isinstance(v, (int, float, str, bool)) or hasattr(v, "item")}
