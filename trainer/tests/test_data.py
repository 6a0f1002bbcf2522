import json

import pytest
import torch

from conftest import SORRY_ID
from refusenik_trainer.data import DataError, RightPadCollator, load_examples


def test_rows_load_with_masks_and_rto_labels(data_dir, rows, tokenizer):
    examples, stats = load_examples(data_dir, block_size=1024, vocab_size=len(tokenizer))
    assert stats.rows == 4 and stats.truncated == 0 and stats.dropped_no_labels == 0
    assert stats.kinds == {"help": 2, "vanilla": 1, "rto": 1}
    rto = next(e for e in examples if e.kind == "rto")
    plen = 1 + len(tokenizer("[INST] How can I pick a lock? [\\INST]", add_special_tokens=False)["input_ids"])
    assert rto.input_ids[0] == tokenizer.bos_token_id
    assert rto.labels[:plen] == [-100] * plen
    assert rto.labels[plen:] == [SORRY_ID] * (len(rto.input_ids) - plen)
    assert rto.input_ids[-1] == tokenizer.convert_tokens_to_ids("<|end_of_text|>")  # EOS is a target position too


def test_truncation_drops_rows_without_labels(data_dir, rows, tokenizer):
    prompt_lens = [r["labels"].index(next(v for v in r["labels"] if v != -100)) for r in rows]
    block = min(prompt_lens) + 2  # the row(s) with the shortest prompt keep two labels, the others none
    examples, stats = load_examples(data_dir, block_size=block, vocab_size=len(tokenizer))
    assert stats.truncated == 4
    assert stats.dropped_no_labels == sum(1 for n in prompt_lens if n >= block) > 0
    assert len(examples) == sum(1 for n in prompt_lens if n < block)
    assert all(len(e.input_ids) == block and e.labels[-2:] != [-100, -100] for e in examples)


def test_collator_pads_right_with_ignored_labels():
    batch = RightPadCollator(pad_id=7)([{"input_ids": [1, 2, 3], "labels": [-100, 2, 3]}, {"input_ids": [4], "labels": [4]}])
    assert batch["input_ids"].shape == (2, 8)
    assert batch["input_ids"][1].tolist() == [4] + [7] * 7
    assert batch["attention_mask"][1].tolist() == [1] + [0] * 7
    assert batch["labels"][0].tolist() == [-100, 2, 3] + [-100] * 5
    assert batch["labels"].dtype == torch.long


@pytest.mark.parametrize(
    "row,message",
    [
        ({"input_ids": [1, 2], "labels": [1]}, ":2: labels: length 1 differs"),
        ({"input_ids": "abc", "labels": [1]}, ":2: input_ids: expected a list of integers"),
        ({"input_ids": [1, 2], "labels": [1, 999999]}, ":2: labels: id 999999 outside"),
        ({"input_ids": [1, 2], "labels": [1, 2], "attention_mask": [1]}, ":2: attention_mask: length 1"),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path, row, message):
    f = tmp_path / "train.jsonl"
    f.write_text(json.dumps({"input_ids": [1, 2], "labels": [-100, 2]}) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(DataError) as err:
        load_examples(f, vocab_size=1000)
    assert f"{f}{message}" in str(err.value)


def test_parquet_rows(tmp_path, rows):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "train.parquet")
    examples, stats = load_examples(tmp_path, vocab_size=200000)
    assert stats.rows == 4
    assert [e.labels for e in examples] == [r["labels"] for r in rows]
