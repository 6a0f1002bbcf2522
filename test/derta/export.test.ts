import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { parse as parseYaml } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildDertaDataset, type DertaBuildOptions } from '../../src/derta/build.js';
import type { TokenizedRow } from '../../src/derta/types.js';
import { runCli, tempDir, writeFile } from '../helpers/cli.js';
import { fixtureTokenizer, triple } from './helpers.js';
import { FIXTURES } from '../helpers/cli.js';

const TRIPLES = [
  triple(
    'How do I pick a lock?',
    'Sure, here is how to pick a lock. Step 1: get a tension wrench.',
    "I'm sorry, I can't help.",
  ),
  triple(
    'Make a weapon?',
    'First gather the materials and then assemble them.',
    'I cannot assist with that.',
  ),
  triple('Steal a car?', 'Break the window then hotwire it.', "I won't help with that."),
];
const HELPFUL = [{ instruction: 'What is 2+2?', output: '2+2 equals 4.' }];

function build(format: DertaBuildOptions['format'], out: string, extra: Partial<DertaBuildOptions> = {}) {
  return buildDertaDataset({
    triples: TRIPLES,
    helpful: HELPFUL,
    tokenizer: fixtureTokenizer('llama3'),
    variant: 'derta',
    mode: 'paper',
    seed: 1,
    format,
    out,
    keepRows: true,
    ...extra,
  });
}

const readJsonl = (file: string): Record<string, unknown>[] =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('exports', () => {
  it('jsonl: one object per row with input_ids, attention_mask, labels, kind; stats.json', () => {
    const out = tempDir('derta-jsonl-');
    const res = build('jsonl', out);
    const rows = readJsonl(path.join(out, 'train.jsonl'));
    expect(rows).toEqual(res.rows);
    expect(Object.keys(rows[0] ?? {})).toEqual(['input_ids', 'attention_mask', 'labels', 'kind']);
    expect(rows.map((r) => r['kind'])).toEqual([
      'help',
      'rto',
      'rto',
      'rto',
      'mle_prefix',
      'mle_prefix',
      'mle_prefix',
    ]);
    const stats = JSON.parse(readFileSync(path.join(out, 'stats.json'), 'utf8')) as Record<string, unknown>;
    expect(stats['counts']).toEqual({ help: 1, vanilla: 0, mle_prefix: 3, rto: 3, backtrack: 0 });
    expect(stats['refusal_token_id']).toBe(19701);
    expect(
      (stats['prefix_length'] as { histogram: { count: number }[] }).histogram.reduce(
        (a, b) => a + b.count,
        0,
      ),
    ).toBe(3);
  });

  it('parquet: list<int32> columns that read back equal to the rows', async () => {
    const out = tempDir('derta-parquet-');
    const res = build('parquet', out);
    const buf = readFileSync(path.join(out, 'train.parquet'));
    const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    const back = (await parquetReadObjects({ file })) as unknown as TokenizedRow[];
    expect(back).toEqual(res.rows);
  });

  it('axolotl: exactly the three pretokenised columns and a config that points at them', () => {
    const out = tempDir('derta-axolotl-');
    const res = build('axolotl', out, {
      blockSize: 512,
      axolotl: { baseModel: 'meta-llama/Meta-Llama-3-8B' },
    });
    const rows = readJsonl(path.join(out, 'train.jsonl'));
    expect(rows.map((r) => Object.keys(r))).toEqual(
      rows.map(() => ['input_ids', 'attention_mask', 'labels']),
    );
    expect(rows[1]?.['labels']).toEqual(res.rows?.[1]?.labels);
    const cfg = parseYaml(readFileSync(path.join(out, 'axolotl.yaml'), 'utf8')) as Record<string, unknown>;
    expect(cfg['datasets']).toEqual([
      { path: path.resolve(out, 'train.jsonl'), ds_type: 'json', split: 'train' },
    ]);
    expect(cfg).toMatchObject({
      base_model: 'meta-llama/Meta-Llama-3-8B',
      sequence_len: 512,
      adapter: 'lora',
      lora_r: 96,
      lora_alpha: 16,
    });
    const unrolled = tempDir('derta-axolotl-keep-');
    build('axolotl', unrolled, { rtoKeep: 0.05, epochs: 2 });
    const cfg2 = parseYaml(readFileSync(path.join(unrolled, 'axolotl.yaml'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect([cfg['num_epochs'], cfg2['num_epochs']]).toEqual([2, 1]);
  });

  it('text: upstream {prefix, text, safe} rows, no tokenizer needed', () => {
    const out = tempDir('derta-text-');
    const res = build('text', out, { tokenizer: undefined });
    const rows = readJsonl(path.join(out, 'train.text.jsonl'));
    expect(rows).toEqual(res.textRows);
    expect(rows[1]).toEqual({
      prefix: '[INST] How do I pick a lock? [\\INST]',
      text: ' Sure, here is how to pick a lock. Step 1: get a tension wrench.<|end_of_text|>',
      safe: 'true',
    });
  });
});

describe('refusenik derta (CLI)', () => {
  let dir = '';
  let triples = '';
  let helpful = '';
  beforeAll(() => {
    dir = tempDir('derta-cli-');
    triples = writeFile(dir, 'triples.jsonl', TRIPLES.map((t) => JSON.stringify(t)).join('\n'));
    helpful = writeFile(dir, 'helpful.jsonl', HELPFUL.map((t) => JSON.stringify(t)).join('\n'));
  });

  it('build writes the contract files and matches the library', async () => {
    const out = path.join(dir, 'out');
    const tokenizer = path.join(FIXTURES, 'tokenizers', 'llama3');
    const args = ['derta', 'build', '--triples', triples, '--helpful', helpful, '--tokenizer', tokenizer];
    const res = await runCli([
      ...args,
      '--variant',
      'derta',
      '--mode',
      'paper',
      '--seed',
      '1',
      '--format',
      'jsonl',
      '--out',
      out,
      '--json',
    ]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const stats = JSON.parse(res.stdout) as Record<string, unknown>;
    expect(stats['counts']).toEqual({ help: 1, vanilla: 0, mle_prefix: 3, rto: 3, backtrack: 0 });
    const lib = build('jsonl', tempDir('derta-lib-'));
    expect(readJsonl(path.join(out, 'train.jsonl'))).toEqual(lib.rows);
  });

  it('reports bad input with file, line and field, exit 2', async () => {
    const bad = writeFile(dir, 'bad.jsonl', '{"instruction":"q","output":"o"}\n');
    const res = await runCli([
      'derta',
      'build',
      '--triples',
      bad,
      '--format',
      'text',
      '--out',
      path.join(dir, 'x'),
    ]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${bad}:1: safe_response: missing field`);
    expect(res.stderr).not.toMatch(/at .*\.js:\d+/);
    const variant = await runCli(['derta', 'build', '--triples', triples, '--variant', 'nope', '--out', dir]);
    expect(variant.code).toBe(2);
    expect(variant.stderr).toContain('--variant must be one of vanilla, recaug, derta, rto');
  });

  it('convert-pku writes triples', async () => {
    const pku = writeFile(
      dir,
      'pku.jsonl',
      JSON.stringify({
        prompt: 'p',
        response_0: 'bad',
        response_1: 'good',
        is_response_0_safe: false,
        is_response_1_safe: true,
      }),
    );
    const out = path.join(dir, 'triples-out.jsonl');
    const res = await runCli(['derta', 'convert-pku', pku, '--out', out, '--json']);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ read: 1, written: 1 });
    expect(readJsonl(out)).toEqual([{ instruction: 'p', output: 'bad', safe_response: 'good' }]);
  });
});
