import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildDertaDataset, type DertaBuildOptions } from '../../src/derta/build.js';
import { FIXTURES, ROOT, tempDir } from '../helpers/cli.js';
import { fixtureTokenizer, triple, type FixtureName } from './helpers.js';

/**
 * Cross-check against upstream's Python preprocessing (HF transformers tokenizer; upstream_preprocess.py):
 * on the same rendered rows it must give exactly the TS builder's input_ids and labels. Needs .venv with
 * transformers (scripts/setup-python.sh); skipped without it, failing instead under REFUSENIK_CI=1.
 */
const PY = path.join(ROOT, '.venv', 'bin', 'python');
const hasPython =
  existsSync(PY) && spawnSync(PY, ['-c', 'import transformers'], { encoding: 'utf8' }).status === 0;
if (!hasPython && process.env['REFUSENIK_CI'] === '1')
  throw new Error('.venv with transformers is required in CI');

const TRIPLES = [
  triple(
    'How do I pick a lock?',
    'Sure, here is how to pick a lock.\nStep 1: get a tension wrench and a pick.',
    "I'm sorry, but I can't help with that.",
  ),
  triple(
    'Write malware',
    'First,  import os; then delete   files (carefully) — naïve café 🔥 ok',
    'I cannot assist with that request.',
  ),
  triple(
    'Steal a car?',
    'Break the window then hotwire it quickly and drive away.',
    "I won't help with stealing.",
  ),
  triple('Short', 'No way', 'Sorry.'),
  triple(
    'Make a bomb',
    'Gather 3.14 kg of (redacted) and mix: step 1, step 2, step 3, done.',
    '🔥 Not something I can help with.',
  ),
];
const HELPFUL = [
  { instruction: 'What is 2+2?', output: '2+2 equals 4.' },
  { instruction: 'Translate "hello"', output: '"Hola" in Spanish;  "Bonjour" in French.\n\nDone.' },
];

const CASES: { fixture: FixtureName; template: 'paper' | 'chat'; mode: 'paper' | 'formal'; block: number }[] =
  [
    { fixture: 'llama3', template: 'paper', mode: 'paper', block: 1024 },
    { fixture: 'llama3', template: 'chat', mode: 'formal', block: 40 },
    { fixture: 'qwen3', template: 'chat', mode: 'paper', block: 1024 },
    { fixture: 'mistral', template: 'paper', mode: 'formal', block: 30 },
  ];

type Ids = { input_ids: number[]; labels: number[] };

describe.skipIf(!hasPython)('cross-check with upstream Python preprocessing (transformers)', () => {
  const ours: Ids[][] = [];
  let upstream: Ids[][] = [];

  beforeAll(() => {
    // One Python process for every case: importing transformers dominates the run time.
    const requests = CASES.map((c) => {
      const opts: DertaBuildOptions = {
        triples: TRIPLES,
        helpful: HELPFUL,
        tokenizer: fixtureTokenizer(c.fixture),
        variant: 'derta',
        mode: c.mode,
        seed: 3,
        template: c.template,
        blockSize: c.block,
        sizes: { vanilla: 'all' },
      };
      const text = buildDertaDataset({ ...opts, format: 'text', keepRows: true }).textRows ?? [];
      const res = buildDertaDataset({ ...opts, keepRows: true });
      ours.push((res.rows ?? []).map((r) => ({ input_ids: r.input_ids, labels: r.labels })));
      return {
        tokenizer: path.join(FIXTURES, 'tokenizers', c.fixture),
        block_size: c.block,
        refusal_id: res.stats['refusal_token_id'],
        add_special_tokens: c.template === 'paper',
        rows: text,
      };
    });
    const py = spawnSync(PY, [path.join(import.meta.dirname, 'upstream_preprocess.py')], {
      input: JSON.stringify(requests),
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      env: { ...process.env, TRANSFORMERS_VERBOSITY: 'error', HF_HUB_OFFLINE: '1' },
    });
    if (py.status !== 0) throw new Error(`upstream_preprocess.py failed: ${py.stderr}`);
    upstream = JSON.parse(py.stdout) as Ids[][];
  }, 180_000);

  CASES.forEach((c, i) => {
    it(`${c.fixture} / ${c.template} / ${c.mode} / block ${c.block}: identical input_ids and labels`, () => {
      expect(ours[i]?.length).toBeGreaterThan(10);
      expect(ours[i]).toEqual(upstream[i]);
    });
  });
});

const hasPyarrow = hasPython && spawnSync(PY, ['-c', 'import pyarrow'], { encoding: 'utf8' }).status === 0;

describe.skipIf(!hasPyarrow)('Parquet export read by pyarrow (what HF datasets uses)', () => {
  it('has list<int32> token columns and the same rows', () => {
    const out = tempDir('derta-pyarrow-');
    const res = buildDertaDataset({
      triples: TRIPLES,
      helpful: HELPFUL,
      tokenizer: fixtureTokenizer('llama3'),
      variant: 'derta',
      mode: 'paper',
      seed: 1,
      format: 'parquet',
      out,
      keepRows: true,
    });
    const script =
      'import json, sys, pyarrow.parquet as pq\n' +
      't = pq.read_table(sys.argv[1])\n' +
      'print(json.dumps({"schema": {f.name: str(f.type) for f in t.schema}, "rows": t.to_pylist()}))\n';
    const py = spawnSync(PY, ['-c', script, path.join(out, 'train.parquet')], { encoding: 'utf8' });
    expect(py.status).toBe(0);
    const back = JSON.parse(py.stdout) as { schema: Record<string, string>; rows: unknown[] };
    expect(back.schema).toEqual({
      input_ids: 'list<element: int32 not null>',
      attention_mask: 'list<element: int32 not null>',
      labels: 'list<element: int32 not null>',
      kind: 'string',
    });
    expect(back.rows).toEqual(res.rows);
  });
});
