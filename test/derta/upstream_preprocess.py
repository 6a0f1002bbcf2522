"""Upstream DeRTa preprocessing (run_clm_*_derta_*.py preprocess_function + the RTO rewrite in forward),
re-run with HF transformers on rows the TS builder rendered, for the cross-check in crosscheck.test.ts.

stdin: a list of requests {"tokenizer": dir, "block_size": n, "refusal_id": id, "add_special_tokens": bool,
       "rows": [{"prefix": str, "text": str, "safe": "true"|"false"}]}
stdout: per request, [{"input_ids": [...], "labels": [...]}]
"""
import json
import sys

from transformers import AutoTokenizer



def preprocess(req):
    tok = AutoTokenizer.from_pretrained(req["tokenizer"])
    kw = dict(truncation=True, max_length=req["block_size"], add_special_tokens=req["add_special_tokens"])
    out = []
    for row in req["rows"]:
        ids = tok(row["prefix"] + row["text"], **kw).input_ids
        plen = len(tok(row["prefix"], **kw).input_ids)
        labels = list(ids)
        labels[:plen] = [-100] * min(plen, len(labels))
        if row["safe"] == "true":
            labels = [req["refusal_id"] if l != -100 else -100 for l in labels]
        out.append({"input_ids": ids, "labels": labels})
    return out


json.dump([preprocess(req) for req in json.load(sys.stdin)], sys.stdout)
