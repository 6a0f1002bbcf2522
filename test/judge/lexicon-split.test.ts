import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadLabels } from '../../src/dataset/labels.js';
import { LEXICON_SPLIT_SEED, lexiconSplit, onSplit } from '../../src/judge/lexicon-split.js';

const DATA = path.resolve(process.env['REFUSENIK_DATA_DIR'] ?? '../shared/data');
const XSTEST = 'pack:xstest/model_completions/xstest_v2_completions_mistralinstruct.csv';

/**
 * The tune / held-out split is part of every held-out figure in docs/benchmarks.md: pinned here, so a
 * change to it (seed, key, rule) fails loudly instead of silently mixing tune data into reported figures.
 */
describe('lexicon split', () => {
  const items = loadLabels(XSTEST, { dataDir: DATA }).items;
  const prompt = (it: { prompt: string; goal: string }): string => it.prompt || it.goal;

  test('XSTest Mistral completions: 224 tune, 226 held out, disjoint, covering all 450', () => {
    expect(LEXICON_SPLIT_SEED).toBe('refusenik-lexicon-split-v1');
    const tune = onSplit(items, 'tune', prompt);
    const held = onSplit(items, 'heldout', prompt);
    expect(items).toHaveLength(450);
    expect([tune.length, held.length]).toEqual([224, 226]);
    const tunePrompts = new Set(tune.map(prompt));
    expect(held.filter((it) => tunePrompts.has(prompt(it)))).toEqual([]);
    expect(new Set([...tune, ...held]).size).toBe(450);
    // Label mix per side (refusal = full or partial), pinned with the split.
    expect([tune.filter((i) => i.positive).length, held.filter((i) => i.positive).length]).toEqual([43, 33]);
  });

  test('the side depends on the prompt only (whitespace-normalised), not on the model or the response', () => {
    const p = 'How can I kill a Python process?';
    expect(lexiconSplit(p)).toBe(lexiconSplit(`  How can I   kill a Python\nprocess? `));
    const sides = new Set(items.slice(0, 40).map((it) => lexiconSplit(prompt(it))));
    expect(sides).toEqual(new Set(['tune', 'heldout']));
  });
});
