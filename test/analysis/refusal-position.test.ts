import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzePositions, CURVE_LENGTH } from '../../src/analysis/refusal-position.js';
import { loadTokenCounter } from '../../src/analysis/token-positions.js';
import { FIXTURES } from '../helpers/cli.js';

const texts = [
  "I'm sorry, but I can't help with that.", // word 1
  'Sure. I cannot do that, though.', // word 2
  'Here is a long answer with many words before the end. I apologize, I will stop.', // word 12: a recovery
  'Step 1: buy things. Step 2: mix them.', // no refusal
  "I can't stress enough how important safety is.", // an exception phrase, not a refusal
];

describe('refusal positions', () => {
  it('finds the first refusal in words, shares within k, the cumulative curve and recoveries', () => {
    const { records, summary } = analyzePositions(texts.map((text) => ({ text })));
    expect(records.map((r) => r.word)).toEqual([1, 2, 12, null, null]);
    expect(records.map((r) => r.recovery)).toEqual([false, false, true, false, false]);
    expect(records[0]?.phrase?.toLowerCase()).toBe("i'm sorry");
    expect(summary.n).toBe(5);
    expect(summary.refusals).toBe(3);
    expect(summary.share_at_first_word).toBeCloseTo(1 / 3, 12);
    expect(summary.share_within_first_5_words).toBeCloseTo(2 / 3, 12);
    expect(summary.recoveries).toBe(1);
    expect(summary.cumulative).toHaveLength(CURVE_LENGTH);
    expect(summary.cumulative[0]).toBeCloseTo(1 / 3, 12);
    expect(summary.cumulative[1]).toBeCloseTo(2 / 3, 12);
    expect(summary.cumulative[10]).toBeCloseTo(2 / 3, 12);
    expect(summary.cumulative[11]).toBeCloseTo(1, 12);
    for (let i = 1; i < CURVE_LENGTH; i++)
      expect(summary.cumulative[i]).toBeGreaterThanOrEqual(summary.cumulative[i - 1] as number);
    expect(summary.word_position_counts.reduce((a, b) => a + b, 0) + summary.word_positions_beyond).toBe(3);
  });

  it('counts refusals beyond position 100 in the denominator, so the curve ends below 1', () => {
    const late = `${'word '.repeat(150)}I'm sorry.`;
    const { summary } = analyzePositions([{ text: late }, { text: 'Sorry, I cannot.' }]);
    expect(summary.word_positions_beyond).toBe(1);
    expect(summary.cumulative[CURVE_LENGTH - 1]).toBeCloseTo(0.5, 12);
  });

  it('takes a custom phrase list and window k', () => {
    const { summary } = analyzePositions(
      texts.map((text) => ({ text })),
      { phrases: ['sorry'], k: 2 },
    );
    // Only "I'm sorry, ..." has "sorry", at word 2.
    expect(summary.refusals).toBe(1);
    expect(summary.k).toBe(2);
    expect(summary.share_at_first_word).toBe(0);
    expect(summary.share_within_first_k_words).toBe(1);
    const none = analyzePositions([{ text: 'fine' }]).summary;
    expect(none.share_within_first_5_words).toBeNull();
    expect(none.cumulative.every((v) => v === 0)).toBe(true);
  });

  it('counts positions in Llama 3 tokens with a real tokenizer.json', () => {
    const tokens = loadTokenCounter(path.join(FIXTURES, 'tokenizers', 'llama3'));
    const text = 'Sure, here is a plan. Actually, I cannot continue.';
    const { records, summary } = analyzePositions([{ text }, { text: 'Sorry, I cannot help.' }], { tokens });
    // "Sorry" is one Llama 3 token: the refusal starts at token 1.
    expect(records[1]?.token).toBe(1);
    // "I cannot" is word 7; in tokens: Sure , ·here ·is ·a ·plan . ·Actually , ·I → token 10.
    expect(records[0]?.word).toBe(7);
    expect(records[0]?.token).toBe(10);
    expect(summary.share_within_first_5_tokens).toBeCloseTo(0.5, 12);
    expect(summary.cumulative_tokens).toHaveLength(CURVE_LENGTH);
    expect(summary.tokenizer).toContain('llama3');
  });

  it('finds the exact covering token for every character (mistral and qwen3 too)', () => {
    for (const name of ['llama3', 'mistral', 'qwen3']) {
      const tokens = loadTokenCounter(path.join(FIXTURES, 'tokenizers', name, 'tokenizer.json'));
      const text = 'Okay: héllo wörld, 12345 — I will not do it.';
      let previous = 1;
      for (let c = 0; c < text.length; c++) {
        const p = tokens.positionOf(text, c);
        expect(p).toBeGreaterThanOrEqual(previous); // monotonic in the character offset
        previous = p;
      }
      expect(tokens.positionOf(text, 0)).toBe(1);
      expect(previous).toBeLessThanOrEqual(tokens.count(text));
    }
  });

  it('rejects a path without a tokenizer.json with a clear input error', () => {
    expect(() => loadTokenCounter(path.join(FIXTURES, 'nope'))).toThrow(/tokenizer\.json/);
  });
});
