"""Pretokenised training rows: loading, validation and batching.

The data builder (`refusenik derta build`) already did the tokenisation and the label rewrites (prompt -100,
RTO rows carrying the refusal id), so the trainer uses `input_ids` and `labels` exactly as given. Rows come
from JSON Lines or Parquet with the columns `input_ids`, `labels`, optionally `attention_mask` and `kind`.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from torch.utils.data import Dataset

IGNORE_INDEX = -100


class DataError(ValueError):
    """A bad training file: the message names the file, the row (1-based line for JSONL) and the field."""


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]
    kind: str | None = None


@dataclass
class LoadStats:
    """What loading did to the rows; printed in the trainer's `start` event."""

    rows: int = 0
    truncated: int = 0
    # Rows whose every label was -100 after truncation: they carry no training signal and are dropped.
    dropped_no_labels: int = 0
    tokens: int = 0
    label_tokens: int = 0
    kinds: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "truncated": self.truncated,
            "dropped_no_labels": self.dropped_no_labels,
            "tokens": self.tokens,
            "label_tokens": self.label_tokens,
            "kinds": dict(sorted(self.kinds.items())),
        }


def resolve_data_file(path: str | Path) -> Path:
    """A file as given, or a builder output folder holding `train.jsonl` or `train.parquet`."""
    p = Path(path)
    if p.is_dir():
        for name in ("train.jsonl", "train.parquet"):
            if (p / name).is_file():
                return p / name
        raise DataError(f"{p}: no train.jsonl or train.parquet in this folder")
    if not p.is_file():
        raise DataError(f"{p}: no such file")
    return p


def _raw_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(location, row) pairs; the location is `file:line` for JSONL and `file: row N` for Parquet."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        missing = [c for c in ("input_ids", "labels") if c not in table.column_names]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
        for i, row in enumerate(table.to_pylist(), start=1):
            yield f"{path}: row {i}", row
        return
    with path.open("r", encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{lineno}: invalid JSON: {e.msg}") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{lineno}: expected a JSON object per line")
            yield f"{path}:{lineno}", row


def _int_list(where: str, row: dict[str, Any], name: str) -> list[int]:
    value = row.get(name)
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise DataError(f"{where}: {name}: expected a list of integers")
    return value


def _validate(where: str, row: dict[str, Any], vocab_size: int | None) -> Example:
    ids = _int_list(where, row, "input_ids")
    labels = _int_list(where, row, "labels")
    if not ids:
        raise DataError(f"{where}: input_ids: empty")
    if len(labels) != len(ids):
        raise DataError(f"{where}: labels: length {len(labels)} differs from input_ids length {len(ids)}")
    if "attention_mask" in row and row["attention_mask"] is not None:
        mask = _int_list(where, row, "attention_mask")
        if len(mask) != len(ids):
            raise DataError(f"{where}: attention_mask: length {len(mask)} differs from input_ids length {len(ids)}")
        if any(m != 1 for m in mask):
            # Rows are unpadded; padding is the collator's job, so a 0 here means the row is not what we expect.
            raise DataError(f"{where}: attention_mask: expected all 1 (rows are stored unpadded)")
    if vocab_size is not None:
        for name, values, allowed in (("input_ids", ids, ()), ("labels", labels, (IGNORE_INDEX,))):
            bad = next((v for v in values if (v < 0 or v >= vocab_size) and v not in allowed), None)
            if bad is not None:
                raise DataError(f"{where}: {name}: id {bad} outside the model's vocabulary (size {vocab_size})")
    kind = row.get("kind")
    return Example(ids, labels, kind if isinstance(kind, str) else None)


def load_examples(
    path: str | Path, block_size: int | None = None, vocab_size: int | None = None
) -> tuple[list[Example], LoadStats]:
    """Reads and validates every row, truncating to `block_size` (as upstream's tokeniser truncation does) and
    dropping rows left without any label."""
    file = resolve_data_file(path)
    stats = LoadStats()
    examples: list[Example] = []
    for where, row in _raw_rows(file):
        ex = _validate(where, row, vocab_size)
        stats.rows += 1
        if block_size is not None and len(ex.input_ids) > block_size:
            ex.input_ids = ex.input_ids[:block_size]
            ex.labels = ex.labels[:block_size]
            stats.truncated += 1
        # Labels are shifted by one inside the loss, so the first position never counts.
        if all(v == IGNORE_INDEX for v in ex.labels[1:]):
            stats.dropped_no_labels += 1
            continue
        stats.kinds[ex.kind or "unknown"] += 1
        stats.tokens += len(ex.input_ids)
        stats.label_tokens += sum(1 for v in ex.labels[1:] if v != IGNORE_INDEX)
        examples.append(ex)
    if not examples:
        raise DataError(f"{file}: no usable rows (every row is empty or lost all its labels)")
    return examples, stats


class PretokenizedDataset(Dataset):
    """Rows as dicts of lists; `input_ids` lengths are what the length-grouped sampler reads."""

    def __init__(self, examples: Sequence[Example]):
        self.examples = list(examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        ex = self.examples[i]
        return {"input_ids": ex.input_ids, "labels": ex.labels}


@dataclass
class RightPadCollator:
    """Pads on the right to the longest row, rounded up to a multiple of `pad_to_multiple_of` (tensor cores like
    multiples of 8): `input_ids` with `pad_id`, `attention_mask` with 0, `labels` with -100. Upstream used
    `DataCollatorForSeq2Seq(pad_to_multiple_of=8, label_pad_token_id=-100)`, which does the same."""

    pad_id: int
    pad_to_multiple_of: int = 8

    def __call__(self, rows: Sequence[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        longest = max(len(r["input_ids"]) for r in rows)
        m = self.pad_to_multiple_of
        width = int(math.ceil(longest / m) * m) if m > 1 else longest
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[i, :n] = torch.tensor(r["input_ids"], dtype=torch.long)
            mask[i, :n] = 1
            labels[i, :n] = torch.tensor(r["labels"], dtype=torch.long)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}
