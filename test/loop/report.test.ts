import { describe, expect, it } from 'vitest';
import {
  ablationDepthSvg,
  renderAblation,
  renderAblationMarkdown,
  renderLoopReport,
  standaloneSvg,
  type AblationRow,
  type LoopReport,
} from '../../src/loop/report.js';
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
  const rate = { before: 0.1, after: 0.6, n: 20, difference: 0.5, ci_low: 0.2, ci_high: 0.7 };
  return {
    loop_id: 'loop-x',
    name: HOSTILE,
    variant: { name: HOSTILE, title: HOSTILE },
    generated_at: '2026-12-03T00:00:00Z',
    judge: 'keyword',
    stages: [{ name: HOSTILE, status: 'done' }],
    before_run: 'a',
    after_run: 'b',
    runs: {
      before: { main: 'a', depth: null, over_refusal: null, mmlu: null, retention: null },
      after: { main: 'b', depth: null, over_refusal: null, mmlu: null, retention: null },
    },
    harvest: { count: HOSTILE, dropped: { [HOSTILE]: 1 } },
    helpful: {},
    train: {},
    asr: {
      [HOSTILE]: {
        all: {
          asr_before: 0.75,
          asr_after: 0.25,
          n: 4,
          difference: -0.5,
          ci_low: -0.8,
          ci_high: 0.1,
          p_value: 0.5,
        },
      },
    },
    transition: {
      all: [{ k: 0, p_before: 0.1, p_after: 0.5, n: 2, difference: 0.4, ci_low: 0.1, ci_high: 0.6 }],
    },
    refusal_tokens: [{ id: 1, text: HOSTILE }],
    over_refusal: rate,
    mmlu: null,
    retention: null,
    degeneration: { before: 0, after: 0.5, n: 4, examples: [HOSTILE] },
    collapsed: true,
    collapse_reasons: [HOSTILE],
    paired: { all: { attacks: comparison, depth: null } },
    health: {
      over_refusal: rate,
      mmlu: null,
      retention: null,
      degeneration: {
        before: { rate: 0, n: 4, ci_low: 0, ci_high: 0.5 },
        after: { rate: 0.5, n: 4, ci_low: 0.2, ci_high: 0.8 },
      },
    },
    evaluations: [],
    transition_curves: {
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
    // The verdict comes first, and says why the model collapsed.
    expect(html.indexOf('id="verdict" data-collapsed="1"')).toBeGreaterThan(0);
    expect(html.indexOf('id="verdict"')).toBeLessThan(html.indexOf('id="asr"'));
    expect(html).toContain('50.0 pp [20.0, 70.0]');
  });
});

function ablationRows(): AblationRow[] {
  const r = report();
  const split = (before: number, after: number) => ({
    asr_before: before,
    asr_after: after,
    n: 30,
    difference: after - before,
    ci_low: null,
    ci_high: null,
    p_value: null,
  });
  const row = (variant: string, after: number): AblationRow => ({
    variant,
    title: HOSTILE,
    comparison: 'x.json',
    asr: {
      plain: { heldout: split(0.8, after) },
      'prefill/k10-template': { heldout: split(0.9, after) },
      'prefill/k40-template': { heldout: split(0.95, after) },
    },
    transition: r.transition,
    over_refusal: r.over_refusal,
    mmlu: null,
    retention: null,
    degeneration: { before: 0, after: 0, n: 10 },
    collapsed: variant === 'rto',
    collapse_reasons: variant === 'rto' ? [HOSTILE] : [],
    train: { steps: 10, first_loss: 9, last_loss: 1 },
  });
  return [row('derta', 0.1), row('rto', 0.05)];
}

describe('the ablation page', () => {
  it('has a row per variant, escapes every value, and draws the base and each variant', () => {
    const rows = ablationRows();
    const html = renderAblation('loop-x', HOSTILE, rows);
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html.match(/<tr>/g)?.length).toBe(3); // head + 2 variants
    expect(html).toContain('80.0% → 10.0%');
    const svg = ablationDepthSvg(rows);
    expect(svg.match(/<polyline/g)).toHaveLength(3); // base, derta, rto
    expect(standaloneSvg(svg)).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  });

  it('as Markdown: ASR per split with the difference, depth and transition by k, health; user text escaped', () => {
    const md = renderAblationMarkdown('loop-x', HOSTILE, ablationRows());
    expect(md).not.toContain('<script');
    expect(md).not.toContain('<img');
    expect(md).toContain('| derta | 80.0% → 10.0% (-70.0 pp');
    // The depth table: the base once, then each variant after training, one column per k.
    expect(md).toMatch(/\| model \| k=10 \| k=40 \|/);
    expect(md).toMatch(/\| base \| 90.0% \| 95.0% \|/);
    expect(md).toMatch(/\| rto \| 5.0% \| 5.0% \|/);
    expect(md).toMatch(/\| rto \|[^\n]*yes: &lt;script/);
    expect(md).toContain('9.00 → 1.00 (10 steps)');
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
