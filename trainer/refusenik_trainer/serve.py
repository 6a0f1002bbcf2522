"""A minimal OpenAI-compatible server over HF `generate`, so a trained checkpoint or LoRA adapter can be
attacked with `refusenik run` (target `openai:<name>` with `base_url: http://127.0.0.1:PORT/v1`).

Endpoints: `GET /v1/models`, `POST /v1/chat/completions` (the tokenizer's chat template), `POST /v1/completions`
(raw prompt, BOS added as the tokenizer does), both with `"stream": true` as server-sent events, and
`GET /health`. Completions take `logprobs: N` (0-20, not streamed; with `echo`, the prompt's tokens too): each generated token's log-probability
and the N most likely tokens at its position, from the model's raw logits, as OpenAI's legacy API writes
them; `analyze transition` reads them. Requests run one at a time (a lock around the model): this is for evaluating a model on one
machine, not for throughput; vLLM serves the same folder at scale (docs/training.md).
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

MAX_BODY_BYTES = 4 * 1024 * 1024
# End-of-turn tokens of common chat formats; generation also stops on these when the vocabulary has them.
END_OF_TURN_PIECES = ("<|eot_id|>", "<|im_end|>", "<|end_of_text|>", "<|endoftext|>", "</s>")


class RequestError(Exception):
    """A bad request: answered with HTTP 400 and an OpenAI-style error body."""


@dataclass
class GenerationRequest:
    prompt_ids: list[int]
    max_new_tokens: int
    temperature: float
    top_p: float
    stop: list[str]
    seed: int | None
    logprobs: int | None = None  # top-N log-probs per generated token (completions only)
    echo: str | None = None  # completions with echo: the prompt text, returned (with its log-probs) before the answer


@dataclass
class GenerationResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" | "length"
    logprobs: dict[str, Any] | None = None  # OpenAI legacy shape: tokens, token_logprobs, top_logprobs


class Generator:
    """The model, its tokenizer and a lock: `stream()` yields text pieces, then returns the final result."""

    def __init__(self, model, tokenizer, name: str, max_new_tokens: int, reset_id: int | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.max_new_tokens = max_new_tokens
        self.lock = threading.Lock()
        self.eos_ids = sorted(self._eos_ids())
        # Backtracking models (Zhang et al. 2025): the answer is what follows the last reset token.
        self.reset_id = reset_id

    def answer_text(self, new_ids: list[int], stops: list[str]) -> tuple[str, bool]:
        """The answer of a backtracking model: the text after the last reset token, cut at a stop string."""
        if self.reset_id is not None and self.reset_id in new_ids:
            new_ids = new_ids[len(new_ids) - new_ids[::-1].index(self.reset_id) :]
        trimmer = StopTrimmer(stops)
        _, stopped = trimmer.feed(self.tokenizer.decode(new_ids, skip_special_tokens=True))
        if not stopped:
            trimmer.flush()
        return trimmer.text, stopped

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for value in (getattr(self.model.generation_config, "eos_token_id", None), self.tokenizer.eos_token_id):
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, list):
                ids.update(v for v in value if isinstance(v, int))
        vocab = self.tokenizer.get_vocab()
        ids.update(vocab[p] for p in END_OF_TURN_PIECES if p in vocab)
        return ids

    def chat_prompt(self, messages: list[dict[str, str]]) -> list[int]:
        if not getattr(self.tokenizer, "chat_template", None):
            raise RequestError("this model's tokenizer has no chat template; use /v1/completions or --chat-template")
        ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "keys"):  # BatchEncoding in some versions
            ids = ids["input_ids"]
        return list(ids)

    def text_prompt(self, prompt: str) -> list[int]:
        return list(self.tokenizer(prompt)["input_ids"])

    def stream(self, req: GenerationRequest) -> Iterator[str]:
        """Yields decoded text as it is generated (stop strings held back until ruled out); the generator's
        return value (StopIteration.value) is the GenerationResult."""
        from transformers import TextIteratorStreamer

        with self.lock:
            streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
            kwargs = self._generate_kwargs(req, streamer=streamer)
            holder: dict[str, Any] = {}

            def run() -> None:
                try:
                    with torch.inference_mode():
                        holder["out"] = self.model.generate(**kwargs)
                except Exception as e:  # noqa: BLE001 - re-raised in the request thread
                    holder["error"] = e
                    streamer.end()

            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            trimmer = StopTrimmer(req.stop)
            stopped = False
            # A backtracking model may still reset: nothing is sent before the whole answer is known.
            hold = self.reset_id is not None
            for piece in streamer:
                if stopped:
                    continue  # drain, so generate can finish
                out, stopped = trimmer.feed(piece)
                if out and not hold:
                    yield out
            worker.join()
            if "error" in holder:
                raise holder["error"]
            new_ids = holder["out"][0, len(req.prompt_ids) :].tolist()
            if hold:
                text, stopped = self.answer_text(new_ids, req.stop)
                if text:
                    yield text
            else:
                if not stopped:
                    tail = trimmer.flush()
                    if tail:
                        yield tail
                text = trimmer.text
            hit_eos = bool(new_ids) and new_ids[-1] in self.eos_ids
            finish = "stop" if stopped or hit_eos or len(new_ids) < req.max_new_tokens else "length"
            return GenerationResult(text, len(req.prompt_ids), len(new_ids), finish)

    def _generate_kwargs(self, req: GenerationRequest, **extra: Any) -> dict[str, Any]:
        """`model.generate` arguments for a request (greedy at temperature 0); seeds torch when asked."""
        input_ids = torch.tensor([req.prompt_ids], device=self.model.device)
        kwargs: dict[str, Any] = {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "max_new_tokens": req.max_new_tokens,
            "eos_token_id": self.eos_ids or None,
            "pad_token_id": self.tokenizer.pad_token_id
            if self.tokenizer.pad_token_id is not None
            else (self.eos_ids[0] if self.eos_ids else 0),
            **extra,
        }
        if req.temperature > 0:
            kwargs.update(do_sample=True, temperature=req.temperature, top_p=req.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if req.seed is not None:
            torch.manual_seed(req.seed)
        return kwargs

    def generate(self, req: GenerationRequest) -> GenerationResult:
        if req.logprobs is not None:
            return self._generate_scored(req)
        it = self.stream(req)
        while True:
            try:
                next(it)
            except StopIteration as done:
                return done.value


    def _generate_scored(self, req: GenerationRequest) -> GenerationResult:
        """Greedy or sampled generation that also returns, per generated token, its log-probability and the
        top-N alternatives under the model's raw (unwarped) distribution."""
        n_top = req.logprobs or 0
        with self.lock:
            kwargs = self._generate_kwargs(req, output_logits=True, return_dict_in_generate=True)
            with torch.inference_mode():
                out = self.model.generate(**kwargs)
        new_ids = out.sequences[0, len(req.prompt_ids) :].tolist()
        tokens: list[str] = []
        token_logprobs: list[float] = []
        top_logprobs: list[dict[str, float]] = []
        for step, token_id in enumerate(new_ids):
            logp = torch.log_softmax(out.logits[step][0].float(), dim=-1)
            tokens.append(self.tokenizer.decode([token_id]))
            token_logprobs.append(float(logp[token_id]))
            top: dict[str, float] = {}
            if n_top > 0:
                values, ids = torch.topk(logp, min(n_top, logp.shape[-1]))
                for v, i in zip(values.tolist(), ids.tolist()):
                    # Pieces that decode alike (byte fallbacks) keep the likelier one, as OpenAI's map does.
                    top.setdefault(self.tokenizer.decode([i]), float(v))
            top_logprobs.append(top)
        text, stopped = self.answer_text(new_ids, req.stop)
        hit_eos = bool(new_ids) and new_ids[-1] in self.eos_ids
        finish = "stop" if stopped or hit_eos or len(new_ids) < req.max_new_tokens else "length"
        if req.echo is not None:
            p_tokens, p_logprobs, p_top = self._prompt_scores(req.prompt_ids, n_top)
            tokens, token_logprobs, top_logprobs = p_tokens + tokens, p_logprobs + token_logprobs, p_top + top_logprobs
            text = req.echo + text
        logprobs = {"tokens": tokens, "token_logprobs": token_logprobs, "top_logprobs": top_logprobs}
        return GenerationResult(text, len(req.prompt_ids), len(new_ids), finish, logprobs)

    def _prompt_scores(self, ids: list[int], n_top: int) -> tuple[list[str], list, list]:
        """Each prompt token's log-probability given the ones before it (the first has none), as OpenAI's echo."""
        with self.lock, torch.inference_mode():
            logits = self.model(input_ids=torch.tensor([ids], device=self.model.device)).logits[0].float()
        logp = torch.log_softmax(logits, dim=-1)
        tokens = [self.tokenizer.decode([i]) for i in ids]
        scores: list = [None] + [float(logp[j - 1, ids[j]]) for j in range(1, len(ids))]
        tops: list = [None]
        for j in range(1, len(ids)):
            top: dict[str, float] = {}
            if n_top > 0:
                values, top_ids = torch.topk(logp[j - 1], min(n_top, logp.shape[-1]))
                for v, i in zip(values.tolist(), top_ids.tolist()):
                    top.setdefault(self.tokenizer.decode([i]), float(v))
            tops.append(top)
        return tokens, scores, tops


class StopTrimmer:
    """Cuts the output at the first stop string. Text that could be the start of a stop string is held back
    until the next piece shows whether it is, so a streamed reply never shows part of a stop string."""

    def __init__(self, stops: list[str]):
        self.stops = [s for s in stops if s]
        self.text = ""  # everything released so far
        self.pending = ""

    def feed(self, piece: str) -> tuple[str, bool]:
        buf = self.pending + piece
        cut = min((i for i in (buf.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            out, self.pending = buf[:cut], ""
            self.text += out
            return out, True
        hold = 0
        for s in self.stops:
            for k in range(min(len(s) - 1, len(buf)), 0, -1):
                if buf.endswith(s[:k]):
                    hold = max(hold, k)
                    break
        out, self.pending = buf[: len(buf) - hold], buf[len(buf) - hold :]
        self.text += out
        return out, False

    def flush(self) -> str:
        out, self.pending = self.pending, ""
        self.text += out
        return out


# ---- request parsing -------------------------------------------------------------------------------------


def _number(body: dict[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not lo <= value <= hi:
        raise RequestError(f"{key}: expected a number in [{lo}, {hi}]")
    return float(value)


def _stops(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop) and len(stop) <= 4:
        return stop
    raise RequestError("stop: expected a string or a list of up to 4 strings")


def _common(body: dict[str, Any], gen: Generator, prompt_ids: list[int]) -> GenerationRequest:
    if body.get("n", 1) != 1:
        raise RequestError("n: only 1 is supported")
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is None:
        limit = gen.max_new_tokens
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise RequestError("max_tokens: expected a positive integer")
    seed = body.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise RequestError("seed: expected an integer")
    return GenerationRequest(
        prompt_ids=prompt_ids,
        max_new_tokens=min(limit, gen.max_new_tokens),
        temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 0.0, 1.0) or 1.0,
        stop=_stops(body),
        seed=seed,
    )


def _content_text(content: Any, where: str) -> str:
    """OpenAI message content: a string, or a list of parts of which only text parts are supported."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)):
                raise RequestError(f"{where}: only text content parts are supported")
            texts.append(part["text"])
        return "".join(texts)
    raise RequestError(f"{where}: expected a string")


def parse_chat(body: dict[str, Any], gen: Generator) -> GenerationRequest:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("messages: expected a non-empty list")
    clean = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "developer"):
            raise RequestError(f"messages[{i}].role: expected system, user or assistant")
        role = "system" if m["role"] == "developer" else m["role"]
        clean.append({"role": role, "content": _content_text(m.get("content"), f"messages[{i}].content")})
    try:
        ids = gen.chat_prompt(clean)
    except RequestError:
        raise
    except Exception as e:  # the template itself may reject a conversation (e.g. roles must alternate)
        raise RequestError(f"messages: the chat template rejected them: {e}") from None
    return _common(body, gen, ids)


def parse_completion(body: dict[str, Any], gen: Generator) -> GenerationRequest:
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise RequestError("prompt: expected a string")
    req = _common(body, gen, gen.text_prompt(prompt))
    logprobs = body.get("logprobs")
    if body.get("echo"):
        if logprobs is None or body.get("stream"):
            raise RequestError("echo: supported with logprobs and without stream")
        req.echo = prompt
    if logprobs is not None:
        if not isinstance(logprobs, int) or isinstance(logprobs, bool) or not 0 <= logprobs <= 20:
            raise RequestError("logprobs: expected an integer from 0 to 20")
        if body.get("stream"):
            raise RequestError("logprobs: not supported with stream")
        req.logprobs = logprobs
    return req


# ---- HTTP ------------------------------------------------------------------------------------------------


def make_handler(gen: Generator, api_key: str | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "refusenik-serve"

        def log_message(self, fmt: str, *args: Any) -> None:  # stderr, one line per request
            sys.stderr.write(f"serve: {self.address_string()} {fmt % args}\n")

        def _send_json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
            self._send_json(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})

        def _authorised(self) -> bool:
            if not api_key:
                return True
            given = self.headers.get("Authorization", "")
            return hmac.compare_digest(given.encode(), f"Bearer {api_key}".encode())

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/health":
                return self._send_json(200, {"status": "ok"})
            if not self._authorised():
                return self._error(401, "invalid API key", "authentication_error")
            if self.path.rstrip("/") == "/v1/models":
                model = {"id": gen.name, "object": "model", "created": 0, "owned_by": "refusenik"}
                return self._send_json(200, {"object": "list", "data": [model]})
            self._error(404, f"no route {self.path}", "not_found_error")

        def do_POST(self) -> None:  # noqa: N802
            route = self.path.rstrip("/")
            if route not in ("/v1/chat/completions", "/v1/completions"):
                return self._error(404, f"no route {self.path}", "not_found_error")
            if not self._authorised():
                return self._error(401, "invalid API key", "authentication_error")
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length <= 0 or length > MAX_BODY_BYTES:
                return self._error(400, f"expected a JSON body of 1 to {MAX_BODY_BYTES} bytes")
            try:
                body = json.loads(self.rfile.read(length))
                if not isinstance(body, dict):
                    raise RequestError("expected a JSON object")
                chat = route == "/v1/chat/completions"
                req = parse_chat(body, gen) if chat else parse_completion(body, gen)
            except json.JSONDecodeError as e:
                return self._error(400, f"invalid JSON: {e.msg}")
            except RequestError as e:
                return self._error(400, str(e))
            try:
                if body.get("stream"):
                    self._stream(req, chat)
                else:
                    result = gen.generate(req)
                    self._send_json(200, _response(gen.name, result, chat))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away
            except Exception as e:  # noqa: BLE001 - reported to the client, the server keeps running
                sys.stderr.write(f"serve: generation failed: {type(e).__name__}: {e}\n")
                self._error(500, f"generation failed: {type(e).__name__}", "server_error")

        def _stream(self, req: GenerationRequest, chat: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            rid, created = _ids(chat)
            obj = "chat.completion.chunk" if chat else "text_completion"

            def event(payload: dict[str, Any]) -> None:
                self.wfile.write(b"data: " + json.dumps(payload).encode("utf-8") + b"\n\n")
                self.wfile.flush()

            def chunk(delta_text: str | None, finish: str | None, first: bool = False) -> dict[str, Any]:
                if chat:
                    delta: dict[str, Any] = {"role": "assistant", "content": ""} if first else {}
                    if delta_text:
                        delta["content"] = delta_text
                    choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
                else:
                    choice = {"index": 0, "text": delta_text or "", "finish_reason": finish, "logprobs": None}
                return {"id": rid, "object": obj, "created": created, "model": gen.name, "choices": [choice]}

            if chat:
                event(chunk(None, None, first=True))
            it = gen.stream(req)
            while True:
                try:
                    piece = next(it)
                except StopIteration as done:
                    result: GenerationResult = done.value
                    break
                event(chunk(piece, None))
            final = chunk(None, result.finish_reason)
            final["usage"] = _usage(result)
            event(final)
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

    return Handler


def _ids(chat: bool) -> tuple[str, int]:
    return ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24], int(time.time())


def _usage(r: GenerationResult) -> dict[str, int]:
    return {
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "total_tokens": r.prompt_tokens + r.completion_tokens,
    }


def _response(name: str, r: GenerationResult, chat: bool) -> dict[str, Any]:
    rid, created = _ids(chat)
    if chat:
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": r.text},
            "finish_reason": r.finish_reason,
            "logprobs": None,
        }
        obj = "chat.completion"
    else:
        choice = {"index": 0, "text": r.text, "finish_reason": r.finish_reason, "logprobs": r.logprobs}
        obj = "text_completion"
    return {"id": rid, "object": obj, "created": created, "model": name, "choices": [choice], "usage": _usage(r)}


# ---- loading and main ------------------------------------------------------------------------------------


def load_for_serving(
    model_dir: str,
    base_model: str | None = None,
    tokenizer_dir: str | None = None,
    precision: str = "auto",
    chat_template: str | None = None,
):
    """(model, tokenizer): a full model folder, or a PEFT adapter folder over its base model. As upstream's
    LoRA evaluation does, the base's embeddings are resized to the tokenizer first when they differ."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if precision == "auto":
        precision = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    adapter_cfg = Path(model_dir) / "adapter_config.json"
    if adapter_cfg.is_file():
        from peft import PeftModel

        base = base_model or json.loads(adapter_cfg.read_text(encoding="utf-8")).get("base_model_name_or_path")
        if not base:
            raise ValueError(f"{adapter_cfg}: no base_model_name_or_path; pass --base-model")
        tok_source = tokenizer_dir or (model_dir if (Path(model_dir) / "tokenizer_config.json").is_file() else base)
        tokenizer = AutoTokenizer.from_pretrained(tok_source)
        model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype)
        if model.get_input_embeddings().weight.shape[0] != len(tokenizer):
            model.resize_token_embeddings(len(tokenizer))
        model = PeftModel.from_pretrained(model, model_dir)
    else:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir or model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    if chat_template:
        tokenizer.chat_template = Path(chat_template).read_text(encoding="utf-8")
    model.config.use_cache = True
    model.to(device).eval()
    return model, tokenizer


def start_server(gen: Generator, host: str, port: int, api_key: str | None) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(gen, api_key))
    server.daemon_threads = True
    return server


def _exit_at_stdin_eof(server: ThreadingHTTPServer) -> None:
    """Blocks until the parent's end of stdin closes, then stops the server."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except (OSError, ValueError):
        pass
    server.shutdown()


def serve_main(args: argparse.Namespace, on_ready: Callable[[str], None] | None = None) -> int:
    try:
        model, tokenizer = load_for_serving(
            args.model, args.base_model, args.tokenizer, args.precision, args.chat_template
        )
    except (OSError, ValueError) as e:
        print(f"error: cannot load {args.model}: {e}", file=sys.stderr)
        return 2
    name = args.name or Path(args.model.rstrip("/")).name
    reset_id = None
    if getattr(args, "reset_token", None):
        reset_id = tokenizer.convert_tokens_to_ids(args.reset_token)
        if reset_id is None or reset_id == tokenizer.unk_token_id or args.reset_token not in tokenizer.get_vocab():
            print(f"error: --reset-token {args.reset_token}: not a token of this tokenizer", file=sys.stderr)
            return 2
    gen = Generator(model, tokenizer, name, args.max_new_tokens, reset_id)
    api_key = args.api_key or os.environ.get("REFUSENIK_SERVE_API_KEY") or None
    server = start_server(gen, args.host, args.port, api_key)
    host, port = server.server_address[:2]
    url = f"http://{host}:{port}/v1"
    # One JSON line on stdout says where it listens (port 0 picks a free one), for scripts and tests.
    print(json.dumps({"event": "listening", "url": url, "model": name}), flush=True)
    if on_ready:
        on_ready(url)
    if getattr(args, "exit_with_stdin", False):
        threading.Thread(target=_exit_at_stdin_eof, args=(server,), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
