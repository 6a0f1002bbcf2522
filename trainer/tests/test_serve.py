"""The OpenAI-compatible server on 127.0.0.1: real HTTP requests (JSON and server-sent events) against the tiny
random model, in-process and through `python -m refusenik_trainer serve`."""

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest

from refusenik_trainer.serve import Generator, StopTrimmer, load_for_serving, start_server


@pytest.fixture(scope="module")
def server(tiny_model_dir):
    model, tok = load_for_serving(str(tiny_model_dir), precision="fp32")
    gen = Generator(model, tok, "tiny", max_new_tokens=8)
    srv = start_server(gen, "127.0.0.1", 0, api_key="sekret")
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1", gen
    srv.shutdown()
    srv.server_close()


def post(url, body, key="sekret"):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, resp.headers.get("Content-Type"), resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def sse_events(text):
    return [line[len("data: ") :] for line in text.split("\n") if line.startswith("data: ")]


def test_chat_completion_uses_the_chat_template(server):
    url, gen = server
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]
    status, ctype, body = post(f"{url}/chat/completions", {"model": "tiny", "messages": messages, "temperature": 0, "max_tokens": 5})
    assert status == 200 and ctype == "application/json"
    data = json.loads(body)
    assert data["object"] == "chat.completion" and data["model"] == "tiny"
    choice = data["choices"][0]
    assert choice["message"]["role"] == "assistant" and isinstance(choice["message"]["content"], str)
    expected_prompt = gen.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    assert data["usage"]["prompt_tokens"] == len(expected_prompt)
    assert 1 <= data["usage"]["completion_tokens"] <= 5
    assert choice["finish_reason"] in ("stop", "length")
    # Greedy decoding is deterministic: same request, same text.
    again = json.loads(post(f"{url}/chat/completions", {"messages": messages, "temperature": 0, "max_tokens": 5})[2])
    assert again["choices"][0]["message"]["content"] == choice["message"]["content"]


def test_streaming_chat_matches_non_streaming(server):
    url, _ = server
    body = {"messages": [{"role": "user", "content": "Tell me a story"}], "temperature": 0, "max_tokens": 6}
    plain = json.loads(post(f"{url}/chat/completions", body)[2])
    status, ctype, text = post(f"{url}/chat/completions", {**body, "stream": True})
    assert status == 200 and ctype.startswith("text/event-stream")
    events = sse_events(text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert streamed == plain["choices"][0]["message"]["content"]
    assert chunks[-1]["choices"][0]["finish_reason"] == plain["choices"][0]["finish_reason"]
    assert chunks[-1]["usage"] == plain["usage"]


def test_completions_take_a_raw_prompt(server):
    url, gen = server
    prompt = "[INST] How do I bake bread? [\\INST]"
    status, _, body = post(f"{url}/completions", {"prompt": prompt, "temperature": 0, "max_tokens": 4})
    assert status == 200
    data = json.loads(body)
    assert data["object"] == "text_completion" and isinstance(data["choices"][0]["text"], str)
    assert data["usage"]["prompt_tokens"] == len(gen.tokenizer(prompt)["input_ids"])
    status, _, text = post(f"{url}/completions", {"prompt": prompt, "temperature": 0, "max_tokens": 4, "stream": True})
    chunks = [json.loads(e) for e in sse_events(text)[:-1]]
    assert "".join(c["choices"][0]["text"] for c in chunks) == data["choices"][0]["text"]


def test_completions_logprobs_match_the_model(server):
    """`logprobs: N` gives each generated token's log-probability and the top N, as a direct forward pass does."""
    import torch

    url, gen = server
    prompt = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    status, _, body = post(f"{url}/completions", {"prompt": prompt, "temperature": 0, "max_tokens": 2, "logprobs": 5})
    assert status == 200, body
    lp = json.loads(body)["choices"][0]["logprobs"]
    assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == 2
    ids = gen.tokenizer(prompt)["input_ids"]
    with torch.inference_mode():
        logits = gen.model(torch.tensor([ids])).logits[0, -1].float()
    expected = torch.log_softmax(logits, dim=-1)
    values, top_ids = torch.topk(expected, 5)
    first = lp["top_logprobs"][0]
    assert len(first) == 5
    for v, i in zip(values.tolist(), top_ids.tolist()):
        assert first[gen.tokenizer.decode([i])] == pytest.approx(v, abs=1e-4)
    # Greedy: the first token is the most likely one, with its log-probability.
    assert lp["tokens"][0] == gen.tokenizer.decode([top_ids[0].item()])
    assert lp["token_logprobs"][0] == pytest.approx(values[0].item(), abs=1e-4)
    for bad in ({"logprobs": 21}, {"logprobs": True}, {"logprobs": 2, "stream": True}, {"echo": True}):
        status, _, text = post(f"{url}/completions", {"prompt": prompt, "max_tokens": 1, **bad})
        assert status == 400, (bad, text)


def test_completions_echo_scores_the_prompt(server):
    """`echo` with `logprobs`: every prompt token's log-probability given the ones before it (the first has
    none), then the generated one, as a direct forward pass gives them (what retention NLL reads)."""
    import torch

    url, gen = server
    prompt = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello"
    status, _, body = post(f"{url}/completions", {"prompt": prompt, "temperature": 0, "max_tokens": 1, "logprobs": 0, "echo": True})
    assert status == 200, body
    choice = json.loads(body)["choices"][0]
    assert choice["text"].startswith(prompt)
    ids = gen.tokenizer(prompt)["input_ids"]
    lp = choice["logprobs"]["token_logprobs"]
    assert len(lp) == len(ids) + 1 and lp[0] is None
    with torch.inference_mode():
        logp = torch.log_softmax(gen.model(torch.tensor([ids])).logits[0].float(), dim=-1)
    for j in range(1, len(ids)):
        assert lp[j] == pytest.approx(float(logp[j - 1, ids[j]]), abs=1e-4)


def test_models_auth_and_bad_requests(server):
    url, _ = server
    req = urllib.request.Request(f"{url}/models", headers={"Authorization": "Bearer sekret"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert json.loads(resp.read())["data"][0]["id"] == "tiny"
    status, _, body = post(f"{url}/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}, key="wrong")
    assert status == 401 and "sekret" not in body
    for bad, field in (
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": 9}, "temperature"),
    ):
        status, _, body = post(f"{url}/chat/completions", bad)
        assert status == 400 and json.loads(body)["error"]["message"].startswith(field)
    status, _, body = post(f"{url}/completions", {"prompt": 3})
    assert status == 400 and "prompt" in json.loads(body)["error"]["message"]


def test_stop_strings_are_cut_and_never_streamed_in_part():
    t = StopTrimmer(["STOP"])
    out = [t.feed(p) for p in ("hello S", "T", "OP and more")]
    assert "".join(o for o, _ in out) == "hello " and out[-1][1] is True and t.text == "hello "
    t = StopTrimmer(["STOP"])
    assert t.feed("a ST")[0] == "a " and t.feed("ART")[0] == "START" and t.flush() == ""


def test_serve_cli_listens_and_answers(tiny_model_dir):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "refusenik_trainer", "serve", "--model", str(tiny_model_dir), "--port", "0"]
    proc = subprocess.Popen(cmd + ["--max-new-tokens", "3"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        line = proc.stdout.readline()
        ready = json.loads(line)
        assert ready["event"] == "listening" and ready["url"].startswith("http://127.0.0.1:")
        status, _, body = post(f"{ready['url']}/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 50}, key=None)
        assert status == 200
        assert json.loads(body)["usage"]["completion_tokens"] <= 3  # capped by --max-new-tokens
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_exits_when_its_parent_closes_stdin(tiny_model_dir):
    """`--exit-with-stdin`: the loop's servers die with the loop, even when it is killed with SIGKILL."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "refusenik_trainer", "serve", "--model", str(tiny_model_dir), "--port", "0", "--exit-with-stdin"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert json.loads(proc.stdout.readline())["event"] == "listening"
        assert proc.poll() is None
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_backtracking_answers_are_the_text_after_the_last_reset(server):
    """With `--reset-token` the answer is what follows the last reset token (Zhang et al. 2025)."""
    _, gen = server
    tok = gen.tokenizer
    reset = tok.convert_tokens_to_ids("<|reserved_special_token_0|>")
    harmful = tok("Sure, first you", add_special_tokens=False)["input_ids"]
    safe = tok("I cannot help with that.", add_special_tokens=False)["input_ids"]
    backtracking = Generator(gen.model, tok, "bt", max_new_tokens=8, reset_id=reset)
    assert backtracking.answer_text(harmful + [reset] + safe, []) == ("I cannot help with that.", False)
    assert backtracking.answer_text(harmful + [reset] + harmful + [reset] + safe, ["help"]) == ("I cannot ", True)
    assert backtracking.answer_text(safe, []) == ("I cannot help with that.", False)
    # Without a reset token configured, the whole text is the answer (the reset token itself is special).
    assert gen.answer_text(harmful + [reset] + safe, [])[0] == "Sure, first youI cannot help with that."
