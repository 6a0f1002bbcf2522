import { describe, expect, it } from 'vitest';
import { renderLoopReport, type LoopReport } from '../../src/loop/report.js';
import { runCli, tempDir, writeFile } from '../helpers/cli.js';

const HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'&';

function report(): LoopReport {
  const row = {
    attack: HOSTILE,
    variant: 'x',
    n_pairs: 4,
    asr_a: 0.75,
    asr_b: 0.25,
    both: 1,
    b: 2,
    c: 0,
    neither: 1,
    difference: -0.5,
    ci_low: -0.8,
    ci_high: 0.1,
    p_value: 0.5,
    unmatched_a: 0,
    unmatched_b: 0,
    excluded: 0,
  };
  const comparison = {
    a: { run: 'a', target: 'base' },
    b: { run: 'b', target: 'trained' },
    judge: 'keyword',
    rows: [row],
    depth: [],
  };
  return {
    loop_id: 'loop-x',
    name: HOSTILE,
    generated_at: '2026-12-03T00:00:00Z',
    judge: 'keyword',
    stages: [{ name: 'attack', status: 'done', finished_at: null }],
    before_run: 'a',
    after_run: 'b',
    harvest: { count: HOSTILE },
    train: {},
    comparison: { all: comparison, trained_goals: null, held_out_goals: null },
    evaluations: [],
    transition: {
      curves: [
        {
          target: HOSTILE,
          points: [
            { k: 0, n: 2, errors: 0, mean: 0.5, ci_low: 0.2, ci_high: 0.8, mean_upper: 0.5, exact_share: 1 },
          ],
        },
      ],
      difference: null,
      refusal_tokens: [{ id: 1, text: HOSTILE }],
    },
  };
}

describe('the loop report page', () => {
  it('escapes every value and allows no script at all', () => {
    const html = renderLoopReport(report());
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toMatch(/Content-Security-Policy" content="default-src 'none'; style-src 'sha256-/);
    expect(html).not.toContain('script-src');
    expect(html).toContain('-50.0 pp [-80.0, 10.0]');
  });
});

describe('refusenik loop config errors', () => {
  it('name the file, line and key, and exit 2 before any stage', async () => {
    const dir = tempDir();
    const file = writeFile(
      dir,
      'loop.yaml',
      'dataset: {path: goals.jsonl}\nattacks: [plain]\nbase: {model: ./m}\nsafe: {text: no}\ntrain:\n  presett: lora\n',
    );
    const res = await runCli(['loop', file, '--db', `${dir}/runs.db`]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/loop\.yaml:6: train\.presett: unknown key/);
    const bad = await runCli(['loop', file, '--until', 'nowhere']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--until expects one of attack, harvest/);
  });
});
