import { describe, expect, it } from 'vitest';
import { buildDertaDataset } from '../../src/derta/build.js';
import { buildMixture, UPSTREAM_MIXTURES } from '../../src/derta/mixture.js';
import { paperPrefix } from '../../src/derta/prefix.js';
import type { HelpfulPair, SafetyTriple } from '../../src/derta/types.js';
import { Rng } from '../../src/util/random.js';
import { fixtureTokenizer, triple } from './helpers.js';

function manyTriples(n: number): SafetyTriple[] {
  return Array.from({ length: n }, (_, i) =>
    triple(`question ${i}?`, `harm ${i} alpha beta gamma delta epsilon`, `I refuse ${i}.`),
  );
}
const HELP: HelpfulPair[] = [{ instruction: 'What is 2+2?', output: '4.' }];

describe('paper prefix sampling (upstream generator)', () => {
  it('splits on single spaces, draws randint(1, n-2) inclusive, empties every third record', () => {
    const rng = new Rng(3);
    const seen = new Set<number>();
    for (let i = 0; i < 600; i++) {
      const p = paperPrefix('a b  c\nd e f', i, rng); // words: a, b, '', c\nd, e, f (n = 6)
      if (!p) throw new Error('unexpected skip');
      if (i % 3 === 0) expect(p.length).toBe(0);
      else {
        expect(p.length).toBeGreaterThanOrEqual(1);
        expect(p.length).toBeLessThanOrEqual(4);
        seen.add(p.length);
      }
      expect(p.text).toBe(['a', 'b', '', 'c\nd', 'e', 'f'].slice(0, p.length).join(' '));
    }
    expect([...seen].sort()).toEqual([1, 2, 3, 4]);
  });

  it('skips responses under three words for the prefix rows but keeps their RTO row', () => {
    expect(paperPrefix('two words', 1, new Rng(1))).toBeUndefined();
    expect(paperPrefix('three words here', 1, new Rng(1))).toEqual({ text: 'three', length: 1 });
    const mix = buildMixture(
      [triple('q', 'too short', 's'), triple('q2', 'long enough reply here', 's2')],
      [],
      {
        variant: 'derta',
        mode: 'paper',
        seed: 1,
        sizes: { vanilla: 'all' },
      },
    );
    expect(mix.skippedShort).toBe(1);
    expect(mix.available).toEqual({ help: 0, rto: 2, mle_prefix: 1, vanilla: 1, backtrack: 0 });
  });

  it('writes upstream text rows byte for byte', () => {
    const res = buildDertaDataset({
      triples: [triple('Q0', 'w1 w2 w3 w4', 'S0'), triple('Q1', 'x1 x2 x3 x4 x5', 'S1')],
      helpful: HELP,
      variant: 'derta',
      mode: 'paper',
      seed: 5,
      format: 'text',
      keepRows: true,
    });
    const rows = res.textRows ?? [];
    expect(rows[0]).toEqual({
      prefix: '[INST] What is 2+2? [\\INST]',
      text: ' 4.<|end_of_text|>',
      safe: 'false',
    });
    expect(rows[1]).toEqual({
      prefix: '[INST] Q0 [\\INST]',
      text: ' w1 w2 w3 w4<|end_of_text|>',
      safe: 'true',
    });
    expect(rows[3]).toEqual({ prefix: '[INST] Q0 [\\INST] ', text: ' S0<|end_of_text|>', safe: 'false' });
    const mle1 = rows[4];
    expect(mle1?.text).toBe(' S1<|end_of_text|>');
    expect(mle1?.prefix).toMatch(/^\[INST\] Q1 \[\\INST\] x1( x2)?( x3)?$/);
  });
});

describe('mixtures', () => {
  const triples = manyTriples(6100);
  const counts = (variant: keyof typeof UPSTREAM_MIXTURES, sizes = {}) =>
    buildDertaDataset({ triples, helpful: HELP, variant, mode: 'paper', seed: 1, format: 'text', sizes })
      .stats['counts'];

  it('uses the upstream sizes by default', () => {
    expect(counts('vanilla')).toEqual({ help: 1, vanilla: 6000, mle_prefix: 0, rto: 0, backtrack: 0 });
    expect(counts('recaug')).toEqual({ help: 1, vanilla: 0, mle_prefix: 6000, rto: 0, backtrack: 0 });
    expect(counts('derta')).toEqual({ help: 1, vanilla: 0, mle_prefix: 3000, rto: 3000, backtrack: 0 });
    expect(counts('rto')).toEqual({ help: 1, vanilla: 0, mle_prefix: 0, rto: 6000, backtrack: 0 });
    const backtrack = buildDertaDataset({
      triples,
      helpful: HELP,
      variant: 'backtrack',
      mode: 'paper',
      seed: 1,
      format: 'text',
      resetToken: '[RESET]',
    }).stats['counts'];
    expect(backtrack).toEqual({ help: 1, vanilla: 3000, mle_prefix: 0, rto: 0, backtrack: 3000 });
  });

  it('takes knobs per kind, and derta draws RTO and prefix rows from the same first questions', () => {
    expect(counts('derta', { rto: 10, mle_prefix: 'all', help: 0 })).toEqual({
      help: 0,
      vanilla: 0,
      mle_prefix: 6100,
      rto: 10,
      backtrack: 0,
    });
    const mix = buildMixture(triples, HELP, { variant: 'derta', mode: 'paper', seed: 1 });
    const rto = mix.examples.filter((e) => e.kind === 'rto').map((e) => e.question);
    const mle = mix.examples.filter((e) => e.kind === 'mle_prefix').map((e) => e.question);
    expect(rto).toEqual(mle);
    expect(rto[2999]).toBe('question 2999?');
  });
});

describe('reproducibility', () => {
  const triples = manyTriples(300);
  const build = (seed: number, mode: 'paper' | 'formal') =>
    buildDertaDataset({
      triples,
      helpful: HELP,
      tokenizer: fixtureTokenizer('llama3'),
      variant: 'recaug',
      mode,
      seed,
      keepRows: true,
      shuffle: true,
    });

  it('gives identical rows and stats for the same seed, different prefixes for another', () => {
    for (const mode of ['paper', 'formal'] as const) {
      const a = build(11, mode);
      const b = build(11, mode);
      expect(b.rows).toEqual(a.rows);
      expect(b.stats).toEqual(a.stats);
      expect(build(12, mode).rows).not.toEqual(a.rows);
    }
  });
});

describe('formal prefix sampling (Eq. 2)', () => {
  it('draws k uniformly in [0, |r̂|] tokens and uses the first k tokens of r̂ as the prefix', () => {
    const tok = fixtureTokenizer('llama3');
    const output = 'Step one: do this. Step two: do that.';
    const n = tok.encode(output, false).length;
    const mix = buildMixture(
      Array.from({ length: 400 }, () => triple('q', output, 'No.')),
      [],
      { variant: 'recaug', mode: 'formal', seed: 2, tokenizer: tok, sizes: { mle_prefix: 'all' } },
    );
    const lengths = new Set<number>();
    for (const e of mix.examples) {
      const k = e.prefixLength ?? -1;
      expect(k).toBeGreaterThanOrEqual(0);
      expect(k).toBeLessThanOrEqual(n);
      expect(e.harmfulPrefix).toBe(tok.decode(tok.encode(output, false).slice(0, k)));
      expect(output.startsWith(e.harmfulPrefix)).toBe(true);
      lengths.add(k);
    }
    expect(lengths.has(0)).toBe(true);
    expect(lengths.has(n)).toBe(true);
    expect(mix.skippedShort).toBe(0);
  });

  it('never splits a multi-byte character', () => {
    const tok = fixtureTokenizer('qwen3');
    const output = '危险的 🔥 东西 ✓ done';
    const mix = buildMixture(
      Array.from({ length: 200 }, () => triple('q', output, 'No.')),
      [],
      { variant: 'recaug', mode: 'formal', seed: 4, tokenizer: tok, sizes: { mle_prefix: 'all' } },
    );
    for (const e of mix.examples) {
      expect(output.startsWith(e.harmfulPrefix)).toBe(true);
      expect(e.harmfulPrefix).not.toContain('\uFFFD');
    }
  });
});
