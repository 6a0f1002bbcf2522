import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { RuntimeFailure } from '../errors.js';
import { repoRoot } from '../util/repo-root.js';
import { serveModel, stopChild, type ServedModel } from './serve.js';

/**
 * The engines that serve the two sides of a loop. `llamacpp`: llama-cpp-python's OpenAI-compatible server
 * over the base GGUF, and the same server over the base GGUF plus the trained LoRA adapter, converted to a GGUF
 * adapter with the converter of the same pinned llama.cpp (scripts/setup-llamacpp.sh): before and after are
 * measured by one engine, on the same quantised weights. `refusenik`: the trainer's own HF server (any model
 * folder, no conversion; slower). Either way the server is a child on a free loopback port that exits with us.
 */

export type EngineName = 'llamacpp' | 'refusenik';

/** The pinned llama-cpp-python of scripts/setup-llamacpp.sh. */
export const LLAMACPP_VERSION = '0.3.36';

export interface LlamaCppSetup {
  /** The interpreter with llama_cpp.server. */
  python: string;
  /** The llama.cpp source folder holding convert_lora_to_gguf.py and gguf-py/. */
  converter: string;
  threads: number;
  nCtx: number;
}

/** Defaults: this checkout's .venv-llamacpp, its extracted sdist, both cores. */
export function llamaCppDefaults(over: Partial<LlamaCppSetup> = {}, baseDir = process.cwd()): LlamaCppSetup {
  const venv = path.join(repoRoot(), '.venv-llamacpp');
  const abs = (p: string | undefined): string | undefined => (p ? path.resolve(baseDir, p) : undefined);
  return {
    python: abs(over.python) ?? path.join(venv, 'bin', 'python'),
    converter:
      abs(over.converter) ??
      path.join(venv, 'src', `llama_cpp_python-${LLAMACPP_VERSION}`, 'vendor', 'llama.cpp'),
    threads: over.threads ?? 2,
    nCtx: over.nCtx ?? 4096,
  };
}

/** What is missing for the llama.cpp engine, one line each (empty when it can run). */
export function llamaCppProblems(setup: LlamaCppSetup, gguf: string | undefined): string[] {
  const problems: string[] = [];
  if (!gguf) problems.push('engine llamacpp needs base.gguf (the base model as a GGUF file)');
  else if (!existsSync(gguf)) problems.push(`base.gguf: ${gguf} does not exist`);
  if (!existsSync(setup.python)) {
    problems.push(`no llama-cpp-python at ${setup.python} (run: bash scripts/setup-llamacpp.sh)`);
  } else {
    const res = spawnSync(setup.python, ['-c', 'import llama_cpp.server'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (res.status !== 0)
      problems.push(
        `${setup.python} cannot import llama_cpp.server: ${res.stderr.trim().split('\n').pop() ?? ''}`,
      );
  }
  if (!existsSync(path.join(setup.converter, 'convert_lora_to_gguf.py')))
    problems.push(`no convert_lora_to_gguf.py in ${setup.converter} (run: bash scripts/setup-llamacpp.sh)`);
  return problems;
}

// A llama_cpp.server that exits when its stdin closes: the loop's pipe, so even a SIGKILL of the loop ends it.
// With REFUSENIK_RESET_TOKEN (a backtracking model's reset token), answers are the text after the last reset
// token, as the trainer's server does with --reset-token: llama.cpp drops special tokens from the text it
// returns, so the launcher renders that one token and cuts there (non-streamed answers).
const LLAMACPP_MAIN = `
import os, runpy, sys, threading
def watch():
    sys.stdin.read()
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
import builtins, heapq
import llama_cpp.llama as llama_module
def top_sorted(iterable, *, key=None, reverse=False):
    # The only sorts in llama_cpp.llama rank a whole vocabulary of (log-prob, id) pairs in Python, for every
    # echoed token, to keep its top log-probs (80 ms a token at 49k entries); the OpenAI APIs give at most 20.
    if reverse and key is None and isinstance(iterable, zip):
        return heapq.nlargest(20, iterable)
    return builtins.sorted(iterable, key=key, reverse=reverse)
llama_module.sorted = top_sorted
reset = os.environ.get("REFUSENIK_RESET_TOKEN")
if reset:
    import llama_cpp
    Llama = llama_cpp.Llama
    detokenize, completion, chat = Llama.detokenize, Llama.create_completion, Llama.create_chat_completion
    def reset_id(self):
        if not hasattr(self, "_refusenik_reset"):
            ids = self.tokenize(reset.encode(), add_bos=False, special=True)
            self._refusenik_reset = ids[0] if len(ids) == 1 else None
        return self._refusenik_reset
    def detokenize_reset(self, tokens, prev_tokens=None, special=False):
        return detokenize(self, tokens, prev_tokens, special or reset_id(self) in tokens)
    def cut(text):
        return text.rsplit(reset, 1)[-1] if isinstance(text, str) and reset in text else text
    def completion_reset(self, *args, **kwargs):
        out = completion(self, *args, **kwargs)
        if isinstance(out, dict):
            for c in out.get("choices", []):
                c["text"] = cut(c.get("text"))
        return out
    def chat_reset(self, *args, **kwargs):
        out = chat(self, *args, **kwargs)
        if isinstance(out, dict):
            for c in out.get("choices", []):
                m = c.get("message") or {}
                m["content"] = cut(m.get("content"))
        return out
    Llama.detokenize, Llama.create_completion, Llama.create_chat_completion = detokenize_reset, completion_reset, chat_reset
sys.argv = ["llama_cpp.server"] + sys.argv[1:]
runpy.run_module("llama_cpp.server", run_name="__main__")
`;

export interface LlamaCppServeOptions {
  setup: LlamaCppSetup;
  gguf: string;
  /** A GGUF LoRA adapter applied over the base at load time. */
  lora?: string;
  /** A backtracking model's reset token: answers are the text after the last one. */
  resetToken?: string;
  name: string;
  timeoutMs?: number;
}

export async function serveLlamaCpp(o: LlamaCppServeOptions): Promise<ServedModel> {
  const port = await freePort();
  const args = [
    '-c',
    LLAMACPP_MAIN,
    '--model',
    o.gguf,
    '--model_alias',
    o.name,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--n_ctx',
    String(o.setup.nCtx),
    '--n_threads',
    String(o.setup.threads),
    '--n_threads_batch',
    String(o.setup.threads),
    // Fixed seed: temperature-0 answers do not depend on it, sampled ones are then reproducible.
    '--seed',
    '1',
  ];
  if (o.lora) args.push('--lora_path', o.lora);
  const child = spawn(o.setup.python, args, {
    stdio: ['pipe', 'ignore', 'pipe'],
    env: { ...process.env, ...(o.resetToken ? { REFUSENIK_RESET_TOKEN: o.resetToken } : {}) },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}/v1`;
  const deadline = Date.now() + (o.timeoutMs ?? 180_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new RuntimeFailure(`llama.cpp server for ${o.name} exited: ${stderr.trim().slice(-1500)}`);
    }
    try {
      const r = await fetch(`${url}/models`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new RuntimeFailure(
        `llama.cpp server for ${o.name} did not start in time: ${stderr.trim().slice(-1500)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, name: o.name, close: () => stopChild(child) };
}

/** A PEFT LoRA adapter folder → one GGUF adapter file (f32: no loss over the trained weights). */
export function convertLoraToGguf(o: {
  /** Interpreter with torch, safetensors and numpy (the trainer's .venv). */
  python: string;
  setup: LlamaCppSetup;
  adapter: string;
  baseModel: string;
  out: string;
}): string {
  const script = path.join(o.setup.converter, 'convert_lora_to_gguf.py');
  if (!existsSync(script)) throw new RuntimeFailure(`no ${script} (run: bash scripts/setup-llamacpp.sh)`);
  mkdirSync(path.dirname(o.out), { recursive: true });
  const partial = `${o.out}.partial`;
  rmSync(partial, { force: true });
  // The converter's own gguf-py, not a pip-installed gguf of another version.
  const pythonPath = [path.join(o.setup.converter, 'gguf-py')];
  const res = spawnSync(
    o.python,
    [script, o.adapter, '--base', o.baseModel, '--outfile', partial, '--outtype', 'f32'],
    {
      encoding: 'utf8',
      timeout: 600_000,
      env: {
        ...process.env,
        PYTHONPATH: [...pythonPath, process.env['PYTHONPATH'] ?? ''].join(path.delimiter),
      },
    },
  );
  if (res.status !== 0 || !existsSync(partial)) {
    throw new RuntimeFailure(
      `converting the adapter ${o.adapter} to GGUF failed (exit ${res.status}): ` +
        `${(res.stderr || res.error?.message || '').trim().slice(-1500)}`,
    );
  }
  renameSync(partial, o.out);
  return o.out;
}

/** The trainer's own server (engine `refusenik`): a model folder, or an adapter over its base. */
export { serveModel };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
