// DeRTa data-builder throughput (issue 5): rows/s and tokens/s of `buildDertaDataset` on synthetic data with
// the Llama-3 fixture tokenizer, side by side in one run, as ratios to the default build (paper format: every
// row encodes prefix+text and then the prefix alone, as upstream). The first line is the floor: one
// encode(prefix+text) per row and nothing else. When .venv has HF `tokenizers` (Rust), the same strings are
// also encoded per sample and with encode_batch, for reference.
//   npm run build && node bench/derta.mjs [--quick]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildDertaDataset } from '../dist/derta/build.js';
import { loadTokenizer } from '../dist/text/tokenizer.js';
import { Rng } from '../dist/util/random.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const quick = process.argv.includes('--quick');
const N_TRIPLES = quick ? 600 : 3000;
const N_HELP = quick ? 600 : 3000;
const REPEATS = quick ? 2 : 5;

const WORDS = (
  'the a to of and in is for with on how step first then you can use make sure this that your ' +
  'materials method process tool example result answer question water system number value data model ' +
  'important carefully quickly, however. finally: (optional) 42 3.14 naïve café'
).split(' ');

function sentence(rng, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(rng.pick(WORDS));
  return out.join(' ');
}

const rng = new Rng(7);
// Lengths roughly like the upstream data: short questions, ~120-word harmful responses, ~40-word refusals,
// ~200-word helpful answers.
const triples = Array.from({ length: N_TRIPLES }, () => ({
  instruction: sentence(rng, 15),
  output: sentence(rng, 120),
  safe_response: sentence(rng, 40),
}));
const helpful = Array.from({ length: N_HELP }, () => ({
  instruction: sentence(rng, 25),
  output: sentence(rng, 200),
}));
const tok = loadTokenizer(path.join(ROOT, '../shared/fixtures/tokenizers/llama3'));

const base = { triples, helpful, tokenizer: tok, variant: 'derta', mode: 'paper', seed: 1, keepRows: true };
const sizes = { rto: 'all', mle_prefix: 'all', vanilla: 'all' };

const dir = mkdtempSync(path.join(os.tmpdir(), 'refusenik-derta-bench-'));
const rendered = buildDertaDataset({ ...base, sizes, format: 'text', tokenizer: undefined }).textRows;
const strings = rendered.map((t) => t.prefix + t.text);

const variants = [
  ['floor: encode(prefix+text) only, no labels', null],
  ['build, paper format (upstream: + encode(prefix))', { sizes }],
  ['build, chat template (Llama-3 Jinja)', { sizes, template: 'chat' }],
  ['build, formal mode (token-level k)', { sizes, mode: 'formal' }],
  ['build + write jsonl', { sizes, format: 'jsonl', out: path.join(dir, 'jsonl'), keepRows: false }],
  ['build + write parquet', { sizes, format: 'parquet', out: path.join(dir, 'parquet'), keepRows: false }],
];

// Round-robin over the variants and keep each one's best time: the machine is shared, so interleaving
// spreads other load evenly instead of penalising whichever variant ran during a busy spell.
const runs = variants.map(([label]) => ({ label, ms: Infinity }));
for (let r = 0; r < REPEATS; r++) {
  variants.forEach(([, opts], i) => {
    const t0 = performance.now();
    let rows;
    let tokens = 0;
    if (opts === null) {
      for (const s of strings) tokens += tok.encode(s, true).length;
      rows = strings.length;
    } else {
      const res = buildDertaDataset({ ...base, ...opts });
      rows = res.stats.rows;
      tokens = res.stats.tokens?.total ?? 0;
    }
    const ms = performance.now() - t0;
    const run = runs[i];
    if (ms < run.ms) Object.assign(run, { ms, rows, tokens });
  });
}
const baseline = runs[1];
const table = runs.map((r) => ({
  variant: r.label,
  rows: r.rows,
  'ms (best)': Math.round(r.ms),
  'rows/s': Math.round((r.rows / r.ms) * 1000),
  'tokens/s': Math.round((r.tokens / r.ms) * 1000),
  'speed vs build': +(baseline.ms / r.ms).toFixed(2),
}));
console.log(`DeRTa build, ${N_TRIPLES} triples + ${N_HELP} helpful, Llama-3 tokenizer, best of ${REPEATS}`);
console.table(table);

// Reference: HF tokenizers (Rust) on the same prefix+text strings, per-sample vs encode_batch.
const py = path.join(ROOT, '.venv/bin/python');
if (existsSync(py)) {
  const file = path.join(dir, 'texts.json');
  writeFileSync(file, JSON.stringify(strings));
  const script = `
import json, sys, time
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1]); texts = json.load(open(sys.argv[2]))
def best(f):
    b = 1e9
    for _ in range(${REPEATS}):
        t = time.perf_counter(); f(); b = min(b, time.perf_counter() - t)
    return b
per = best(lambda: [tok.encode(t) for t in texts])
batch = best(lambda: tok.encode_batch(texts))
print(json.dumps({"n": len(texts), "per_sample_s": per, "batch_s": batch}))
`;
  const r = spawnSync(
    py,
    ['-c', script, path.join(ROOT, '../shared/fixtures/tokenizers/llama3/tokenizer.json'), file],
    {
      encoding: 'utf8',
      env: { ...process.env, RAYON_NUM_THREADS: String(os.availableParallelism()) },
    },
  );
  if (r.status === 0) {
    const { n, per_sample_s, batch_s } = JSON.parse(r.stdout);
    const floor = runs[0].ms / 1000;
    console.log(
      `HF tokenizers (Rust), encode(prefix+text) of the same ${n} rows: per-sample ${Math.round(n / per_sample_s)} rows/s, ` +
        `encode_batch ${Math.round(n / batch_s)} rows/s (batch/per-sample ${(per_sample_s / batch_s).toFixed(2)}x on ` +
        `${os.availableParallelism()} cores); JS per-sample floor ${Math.round(n / floor)} rows/s ` +
        `(Rust per-sample ${(floor / per_sample_s).toFixed(2)}x faster, encode_batch ${(floor / batch_s).toFixed(2)}x)`,
    );
  } else {
    console.log(`(HF tokenizers reference skipped: ${r.stderr.trim().split('\n').at(-1)})`);
  }
}
