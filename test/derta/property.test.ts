import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildDertaDataset } from '../../src/derta/build.js';
import { chatFormat, paperFormat } from '../../src/derta/format.js';
import { buildMixture } from '../../src/derta/mixture.js';
import { refusalTokenId } from '../../src/text/tokenizer.js';
import type { HelpfulPair, SafetyTriple } from '../../src/derta/types.js';
import {
  fixtureTokenizer,
  MISTRAL_STYLE_TEMPLATE,
  spanText,
  trainedSpan,
  type FixtureName,
} from './helpers.js';

/**
 * Property: for every MLE row (help, vanilla, mle_prefix), decoding the positions with a label gives back
 * exactly the trained text — the response, the separator and the end-of-sequence marker — and the labels
 * there are the input ids themselves. Checked on all three fixture tokenizers, paper format and chat templates.
 *
 * The one exception is upstream's own: the mask length is len(tok(prefix)), so when a token spans the
 * prompt/response boundary (Mistral: `]` + `(` → `](`, or the double space of an empty harmful prefix → `▁▁`)
 * the first response token is masked. Such rows must be exactly the ones the build reports as
 * `boundary_mismatch`, and they must stay rare.
 */

const piece = fc.constantFrom(
  'the',
  'Sorry',
  'I',
  "can't",
  'help',
  'step',
  '1:',
  '42',
  '3.14',
  'naïve',
  'café',
  '中文',
  '危险',
  '🔥',
  '✓',
  'x\ny',
  'tab\there',
  '"quoted"',
  '(paren)',
  '[INST]',
  '—',
  '...',
  '?',
  'UPPER',
  'mixedCase',
  'a',
  'über',
);
const sentence = fc
  .array(fc.tuple(piece, fc.constantFrom(' ', ' ', ' ', '  ', '\n')), { minLength: 1, maxLength: 14 })
  .map((parts) => parts.map(([w, sep], i) => (i === 0 ? w : sep + w)).join(''));
const tripleArb = fc.record({ instruction: sentence, output: sentence, safe_response: sentence });
const helpArb = fc.record({ instruction: sentence, output: sentence });

const CASES: { fixture: FixtureName; template: 'paper' | 'chat'; eos: string; chatTemplate?: string }[] = [
  { fixture: 'llama3', template: 'paper', eos: '<|end_of_text|>' },
  { fixture: 'llama3', template: 'chat', eos: '<|eot_id|>' },
  { fixture: 'qwen3', template: 'paper', eos: '<|im_end|>' },
  { fixture: 'qwen3', template: 'chat', eos: '<|im_end|>' },
  { fixture: 'mistral', template: 'paper', eos: '</s>' },
  { fixture: 'mistral', template: 'chat', eos: '</s>', chatTemplate: MISTRAL_STYLE_TEMPLATE },
];

describe('decoded label spans of MLE rows are exactly the response text', () => {
  for (const c of CASES) {
    it(`${c.fixture} / ${c.template}`, () => {
      const tok = fixtureTokenizer(c.fixture);
      const fmt = c.template === 'paper' ? paperFormat(c.eos) : chatFormat(tok, { template: c.chatTemplate });
      let clean = 0;
      let merged = 0;
      fc.assert(
        fc.property(
          fc.array(tripleArb, { minLength: 1, maxLength: 4 }),
          fc.array(helpArb, { maxLength: 2 }),
          fc.integer({ min: 0, max: 1000 }),
          fc.constantFrom('paper' as const, 'formal' as const),
          (triples: SafetyTriple[], helpful: HelpfulPair[], seed, mode) => {
            const sizes = { vanilla: 'all' as const, mle_prefix: 'all' as const, rto: 'all' as const };
            const res = buildDertaDataset({
              triples,
              helpful,
              tokenizer: tok,
              variant: 'derta',
              mode,
              seed,
              template: c.template,
              chatTemplate: c.chatTemplate,
              sizes,
              keepRows: true,
            });
            const examples = buildMixture(triples, helpful, {
              variant: 'derta',
              mode,
              seed,
              sizes,
              tokenizer: tok,
            }).examples;
            const rows = res.rows ?? [];
            expect(rows).toHaveLength(examples.length);
            let mergedHere = 0;
            rows.forEach((row, i) => {
              const ex = examples[i];
              if (!ex || row.kind !== ex.kind) throw new Error('row order differs from the mixture');
              const { start, end } = trainedSpan(row);
              const promptIds = tok.encode(fmt.render(ex).prefix, fmt.addSpecialTokens);
              if (promptIds.some((id, j) => row.input_ids[j] !== id)) {
                mergedHere++;
                return;
              }
              expect(start).toBe(promptIds.length);
              if (row.kind === 'rto') {
                expect(row.labels.slice(start)).toEqual(
                  new Array<number>(end - start).fill(refusalTokenId(tok)),
                );
                return;
              }
              const sep = c.template === 'paper' || (ex.kind === 'mle_prefix' && ex.harmfulPrefix) ? ' ' : '';
              expect(spanText(tok, row.input_ids, start, end)).toBe(sep + ex.response + c.eos);
              expect(row.labels.slice(start)).toEqual(row.input_ids.slice(start));
              clean++;
            });
            expect(res.stats['boundary_mismatch']).toBe(mergedHere);
            merged += mergedHere;
          },
        ),
        { numRuns: 40, seed: 20240712 },
      );
      expect(merged).toBeLessThan(clean / 5);
    });
  }
});
