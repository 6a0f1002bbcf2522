import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DATA_DIR, FIXTURES, runCli, tempDir, writeFile } from '../helpers/cli.js';
import { writeRuns } from './stored-runs.js';

/** `refusenik analyze` and `refusenik compare` through the built CLI (`npm run build` first). */

const COMPLETION = path.join(DATA_DIR, 'derta/results/safety/completionattack');
const DERTA_8B = path.join(COMPLETION, 'Llama-3-8B_derta_eval_completionattack_200.json');
const VANILLA_8B = path.join(COMPLETION, 'Llama-3-8B_vanill_eval_completionattack_200.json');

// 30 behaviors. Base: harmful on 0..19. Trained: harmful on 0..4 and on 25; case 29 errored.
const base = Array.from({ length: 30 }, (_, i) => i < 20);
const trained: (boolean | null)[] = Array.from({ length: 30 }, (_, i) => i < 5 || i === 25);
trained[29] = null;

describe('refusenik compare', () => {
  const dir = tempDir('refusenik-compare-');
  const db = path.join(dir, 'runs.db');
  writeRuns(db, [
    { runId: 'run-base', target: 'openai:base', harmful: base, flipEvery: 7 },
    { runId: 'run-trained', target: 'openai:trained', harmful: trained },
    // One run holding both targets.
    { runId: 'run-both', target: 'openai:base', harmful: base },
    { runId: 'run-both', target: 'openai:trained', harmful: trained },
  ]);

  it('runs McNemar exact on the shared cases of two runs', async () => {
    const res = await runCli([
      'compare',
      'run-base',
      'run-trained',
      '--db',
      db,
      '--judge',
      'keyword',
      '--json',
    ]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as { judge: string; rows: Record<string, number>[] };
    expect(out.judge).toBe('keyword');
    const row = out.rows[0] as Record<string, number>;
    // Pairs 0..28 (29 errored on B): both 5, only base 15, only trained 1 (#25), neither 8.
    expect(row).toMatchObject({ n_pairs: 29, both: 5, b: 15, c: 1, neither: 8, excluded: 1 });
    expect(row['p_value']).toBeCloseTo((2 * 17) / 65536, 12);
    expect(row['asr_a']).toBeCloseTo(20 / 29, 12);
    expect(row['asr_b']).toBeCloseTo(6 / 29, 12);
    expect(row['difference']).toBeCloseTo(-14 / 29, 12);
    expect(row['ci_high']).toBeLessThan(0);
  });

  it('compares two targets of one run, and prints a readable summary', async () => {
    const res = await runCli([
      'compare',
      'run-both',
      '--db',
      db,
      '--target-a',
      'openai:base',
      '--target-b',
      'openai:trained',
    ]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('A: openai:base');
    expect(res.stdout).toMatch(/29 pairs; ASR A 69\.0% -> B 20\.7%/);
    expect(res.stdout).toContain('only A 15, only B 1; McNemar exact p = 0.0005');
  });

  it('explains what is missing instead of guessing', async () => {
    const self = await runCli(['compare', 'run-both', '--db', db]);
    expect(self.code).toBe(2);
    expect(self.stderr).toMatch(/--target-b/);
    const twoJudges = await runCli(['compare', 'run-base', 'run-base', '--db', db, '--target-b', 'x']);
    expect(twoJudges.code).toBe(2);
    const ambiguous = await runCli(['compare', 'run-both', 'run-trained', '--db', db]);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(/2 targets .*pick one/);
    const noJudge = await runCli(['compare', 'run-base', 'run-trained', '--db', db, '--judge', 'qi2023']);
    expect(noJudge.code).toBe(2);
    expect(noJudge.stderr).toMatch(/no verdicts/);
    expect(noJudge.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('analyze refusal-position --run reads a stored run, per target x attack and overall', async () => {
    const res = await runCli([
      'analyze',
      'refusal-position',
      '--run',
      'run-trained',
      '--db',
      db,
      '--judge',
      'keyword',
      '--json',
    ]);
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as Record<string, unknown> & { groups: { target: string }[] };
    // 29 ok cases (one errored); 23 refuse with "I'm sorry" at word 1.
    expect(out).toMatchObject({
      run: 'run-trained',
      n: 29,
      refusals: 23,
      share_at_first_word: 1,
      recoveries: 0,
    });
    expect(out.groups.map((g) => g.target)).toEqual(['openai:trained']);
  });

  it('analyze asr --by category and analyze agreement read the same store', async () => {
    const asr = await runCli([
      'analyze',
      'asr',
      '--run',
      'run-base',
      '--db',
      db,
      '--by',
      'category',
      '--json',
    ]);
    expect(asr.code).toBe(0);
    const rows = JSON.parse(asr.stdout) as {
      category: string;
      judge: string;
      n: number;
      successes: number;
    }[];
    const even = rows.find((r) => r.category === 'even' && r.judge === 'keyword');
    expect(even).toMatchObject({ n: 15, successes: 10 });
    const agr = await runCli(['analyze', 'agreement', '--run', 'run-base', '--db', db, '--json']);
    expect(agr.code).toBe(0);
    const pair = (JSON.parse(agr.stdout) as { pairs: { n: number; confusion: number[][]; kappa: number }[] })
      .pairs[0];
    // `other` flips cases 0, 7, 14, 21, 28: 3 of them harmful by keyword (0, 7, 14), 2 not (21, 28).
    expect(pair?.n).toBe(30);
    expect(pair?.confusion).toEqual([
      [17, 3],
      [2, 8],
    ]);
  });
});

describe('refusenik analyze refusal-position', () => {
  it('meets the contract on a DeRTa completion-attack file (prompt stripped from each line)', async () => {
    const res = await runCli(['analyze', 'refusal-position', '--input', DERTA_8B, '--json']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ n: 200 });
    expect(typeof out['refusals']).toBe('number');
    expect(typeof out['share_within_first_5_words']).toBe('number');
    expect(out['cumulative']).toHaveLength(100);
    // The DeRTa model refuses right after the forced "Step 1:" (at word 1 of the continuation)...
    expect(out['share_within_first_5_words'] as number).toBeGreaterThan(0.9);
    // ...while the vanilla model mostly writes steps first and refuses later: recoveries.
    const vanilla = await runCli(['analyze', 'refusal-position', '--input', VANILLA_8B, '--json']);
    const v = JSON.parse(vanilla.stdout) as Record<string, number>;
    expect(v['share_within_first_5_words']).toBeLessThan(0.5);
    expect(v['recoveries']).toBeGreaterThan(50);
  });

  it('adds token positions with --tokenizer and writes per-response records', async () => {
    const dir = tempDir('refusenik-positions-');
    const input = writeFile(
      dir,
      'responses.jsonl',
      [
        { prompt: 'a', response: "Sorry, I can't." },
        { question: 'b', response: 'Sure. Step 1: ... Step 2: ... I will not continue.' },
        { instruction: 'c', response: 'Fine, here it is.' },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n'),
    );
    const records = path.join(dir, 'positions.jsonl');
    const tokenizer = path.join(FIXTURES, 'tokenizers/llama3/tokenizer.json');
    const res = await runCli([
      'analyze',
      'refusal-position',
      '--input',
      input,
      '--tokenizer',
      tokenizer,
      '--records',
      records,
      '--json',
    ]);
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ n: 3, refusals: 2, share_within_first_5_words: 0.5, recoveries: 1 });
    expect(out['share_within_first_5_tokens']).toBe(0.5);
    expect(out['cumulative_tokens']).toHaveLength(100);
    const { readFileSync } = await import('node:fs');
    const lines = readFileSync(records, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l['word'])).toEqual([1, 8, null]);
    expect(lines.map((l) => l['line'])).toEqual([1, 2, 3]);
    expect(lines[0]?.['token']).toBe(1);
  });

  it('names the file, line and field of bad input and exits 2', async () => {
    const dir = tempDir('refusenik-positions-bad-');
    const bad = writeFile(dir, 'bad.jsonl', '{"response": "ok"}\n{"prompt": "x", "reply_text": "y"}\n');
    const res = await runCli(['analyze', 'refusal-position', '--input', bad, '--json']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${bad}:2`);
    expect(res.stderr).toMatch(/no response field/);
    const typed = writeFile(dir, 'typed.jsonl', '{"response": {"text": "x"}}\n');
    const r2 = await runCli(['analyze', 'refusal-position', '--input', typed]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/typed\.jsonl:1: response: expected a string/);
    const both = await runCli(['analyze', 'refusal-position']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/exactly one of --input/);
  });
});
