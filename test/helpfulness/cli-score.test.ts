import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { DATA_DIR, runCli } from '../helpers/cli.js';

const RESULTS = path.join(DATA_DIR, 'derta/results/helpfulness');

describe('refusenik score (contract: {n, correct, accuracy} with accuracy in percent)', () => {
  test('mmlu and gsm8k on the released LLaMA3-70B vanilla outputs', async () => {
    const mmlu = await runCli([
      'score',
      '--task',
      'mmlu',
      '--input',
      path.join(RESULTS, 'mmlu/lora_Llama-3-70B_vanill_eval_mmlu_500.json'),
      '--json',
    ]);
    expect(mmlu.code, mmlu.stderr).toBe(0);
    const m = JSON.parse(mmlu.stdout) as {
      n: number;
      correct: number;
      accuracy: number;
      inconclusive: number;
    };
    // One answer states (C) and then (D): inconclusive, counted apart from n.
    expect([m.n, m.inconclusive]).toEqual([499, 1]);
    expect(m.accuracy).toBeCloseTo((100 * m.correct) / m.n, 2); // rounded to 2 decimals
    expect(Math.abs(m.accuracy - 70.2)).toBeLessThanOrEqual(2);
    const gsm = await runCli([
      'score',
      '--task',
      'gsm8k',
      '--input',
      path.join(RESULTS, 'gsm8k/lora_Llama-3-70B_vanill_eval_gsm8k_500.json'),
      '--json',
    ]);
    const g = JSON.parse(gsm.stdout) as { n: number; accuracy: number };
    expect(g.n).toBe(500);
    expect(Math.abs(g.accuracy - 78.6)).toBeLessThanOrEqual(3);
  });

  test('xstest on the human-labelled Mistral completions reports agreement', async () => {
    const r = await runCli([
      'score',
      '--task',
      'xstest',
      '--input',
      path.join(DATA_DIR, 'xstest/model_completions/xstest_v2_completions_mistralinstruct.csv'),
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as {
      n: number;
      xstest: { safe: { n: number }; unsafe: { n: number }; human_agreement: { refusal_binary: number } };
    };
    expect(s.n).toBe(450);
    expect(s.xstest.safe.n).toBe(250);
    expect(s.xstest.unsafe.n).toBe(200);
    expect(s.xstest.human_agreement.refusal_binary).toBeGreaterThan(90);
  });

  test('bad input: exit 2 naming file, line and field', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'refusenik-score-'));
    const file = path.join(dir, 'x.jsonl');
    writeFileSync(
      file,
      '{"question": "q", "response": "#### 1", "answer": "#### 1"}\n{"question": "q", "answer": "#### 2"}\n',
    );
    const r = await runCli(['score', '--task', 'gsm8k', '--input', file, '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:2: response: missing field`);
    const bad = await runCli(['score', '--task', 'nope', '--input', file]);
    expect(bad.code).toBe(2);
  });
});
