// Serving engines side by side on the real model (SmolLM2-135M-Instruct, scripts/setup-models.sh): the same
// chat requests, greedy, to llama-cpp-python's server over the Q4_1 GGUF, the same server with a LoRA adapter
// (r 32, what the loop serves after training), and the trainer's own HF server over the fp32 HF folder (the
// fallback engine). Tokens/s of generated text per engine, interleaved round by round so a busy machine slows
// all of them alike; ratios to llama.cpp. Usage: node bench/engines.mjs [--quick]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const model = path.join(root, 'models', 'smollm2-135m-instruct');
const llamaPy = path.join(root, '.venv-llamacpp', 'bin', 'python');
const trainerPy = path.join(root, '.venv', 'bin', 'python');
const quick = process.argv.includes('--quick');
if (![path.join(model, 'model.gguf'), llamaPy, trainerPy].every(existsSync)) {
  console.log('engines: skipped (run scripts/setup-python.sh, setup-llamacpp.sh and setup-models.sh first)');
  process.exit(0);
}

const PROMPTS = [
  'Explain how photosynthesis works.',
  'Write a short story about a lighthouse keeper.',
  'Give three tips for learning a new language.',
  'Describe the water cycle to a child.',
];
const MAX_TOKENS = quick ? 48 : 128;
const ROUNDS = quick ? 1 : 3;

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function start(cmd, args, url) {
  const child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'ignore'] });
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${url}/models`)).ok) return child;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  child.kill('SIGKILL');
  throw new Error(`${cmd} did not start`);
}

/** A small random LoRA adapter (r 32 on every projection) converted to GGUF, as the loop serves one. */
function adapter(dir) {
  const peft = path.join(dir, 'peft');
  const script = `
import sys, torch
from transformers import AutoModelForCausalLM
from peft import LoraConfig, get_peft_model
torch.manual_seed(0)
m = AutoModelForCausalLM.from_pretrained(sys.argv[1])
p = get_peft_model(m, LoraConfig(r=32, lora_alpha=32, target_modules=["q_proj","k_proj","v_proj","o_proj","gate_proj","up_proj","down_proj"], init_lora_weights=False))
p.save_pretrained(sys.argv[2])
`;
  const r = spawnSync(trainerPy, ['-c', script, path.join(model, 'hf'), peft], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  const conv = path.join(root, '.venv-llamacpp', 'src', 'llama_cpp_python-0.3.36', 'vendor', 'llama.cpp');
  const out = path.join(dir, 'adapter.gguf');
  const c = spawnSync(
    trainerPy,
    [path.join(conv, 'convert_lora_to_gguf.py'), peft, '--base', path.join(model, 'hf'), '--outfile', out],
    { encoding: 'utf8', env: { ...process.env, PYTHONPATH: path.join(conv, 'gguf-py') } },
  );
  if (c.status !== 0) throw new Error(c.stderr);
  return out;
}

async function timeOne(url, prompt) {
  const t0 = performance.now();
  const r = await fetch(`${url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'm',
      messages: [{ role: 'user', content: prompt }],
      max_tokens: MAX_TOKENS,
      temperature: 0,
    }),
  });
  const body = await r.json();
  return { s: (performance.now() - t0) / 1000, tokens: body.usage?.completion_tokens ?? 0 };
}

const dir = path.join(os.tmpdir(), `refusenik-bench-engines-${process.pid}`);
mkdirSync(dir, { recursive: true });
const children = [];
try {
  const lora = adapter(dir);
  const engines = [];
  for (const [name, cmd, args] of [
    ['llama.cpp (Q4_1 GGUF)', llamaPy, ['--model', path.join(model, 'model.gguf'), '--n_ctx', '2048']],
    [
      'llama.cpp + LoRA r32',
      llamaPy,
      ['--model', path.join(model, 'model.gguf'), '--lora_path', lora, '--n_ctx', '2048'],
    ],
    ['trainer serve (HF fp32)', trainerPy, null],
  ]) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/v1`;
    const full = args
      ? ['-m', 'llama_cpp.server', ...args, '--host', '127.0.0.1', '--port', String(port), '--n_threads', '2']
      : [
          '-m',
          'refusenik_trainer',
          'serve',
          '--model',
          path.join(model, 'hf'),
          '--port',
          String(port),
          '--precision',
          'fp32',
          '--max-new-tokens',
          String(MAX_TOKENS),
        ];
    children.push(await start(cmd, full, url));
    engines.push({ name, url, s: 0, tokens: 0 });
  }
  for (const e of engines) await timeOne(e.url, 'Hi'); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const prompt of PROMPTS) {
      for (const e of engines) {
        const r = await timeOne(e.url, prompt);
        e.s += r.s;
        e.tokens += r.tokens;
      }
    }
  }
  const base = engines[0].tokens / engines[0].s;
  console.log(
    `engines: ${PROMPTS.length * ROUNDS} chat requests each, max_tokens ${MAX_TOKENS}, greedy, 1 at a time`,
  );
  console.log('engine                      tokens/s   vs llama.cpp');
  for (const e of engines) {
    const rate = e.tokens / e.s;
    console.log(`${e.name.padEnd(27)} ${rate.toFixed(1).padStart(8)}   ${(rate / base).toFixed(2)}x`);
  }
} finally {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
