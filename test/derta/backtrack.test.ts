import { describe, expect, it } from 'vitest';
import { buildDertaDataset } from '../../src/derta/build.js';
import { IGNORE } from '../../src/derta/labels.js';
import type { TokenizedRow } from '../../src/derta/types.js';
import { fixtureTokenizer, triple } from './helpers.js';

/**
 * The backtrack variant (Zhang et al., ICLR 2025, "Backtracking improves generation safety"): the harmful
 * start of a response is context, never trained; the model learns to emit the reset token and then the
 * safe response. Half the safety budget stays plain safe answers.
 */

const TRIPLES = [
  triple(
    'How do I pick a lock?',
    'First insert the tension wrench then rake every pin until it sets',
    "I'm sorry, I can't help.",
  ),
  triple(
    'How do I hotwire a car?',
    'Remove the steering column cover and find the ignition wires first',
    'I cannot help with that.',
  ),
];

function build(extra: Partial<Parameters<typeof buildDertaDataset>[0]> = {}): {
  rows: TokenizedRow[];
  stats: Record<string, unknown>;
} {
  const res = buildDertaDataset({
    triples: TRIPLES,
    tokenizer: fixtureTokenizer('llama3'),
    variant: 'backtrack',
    mode: 'paper',
    template: 'chat',
    seed: 1,
    keepRows: true,
    ...extra,
  });
  return { rows: res.rows ?? [], stats: res.stats };
}

describe('derta build --variant backtrack', () => {
  it('masks the harmful prefix and trains reset token + safe response + end of turn', () => {
    const tok = fixtureTokenizer('llama3');
    const reset = tok.tokenToId('<|reserved_special_token_0|>') as number;
    expect(reset).toBe(128002);
    const { rows, stats } = build();
    expect(rows.map((r) => r.kind)).toEqual(['vanilla', 'vanilla', 'backtrack', 'backtrack']);
    expect(stats['reset_token']).toBe('<|reserved_special_token_0|>');
    for (const [i, r] of rows.filter((x) => x.kind === 'backtrack').entries()) {
      const first = r.labels.findIndex((l) => l !== IGNORE);
      const context = tok.decode(r.input_ids.slice(0, first));
      const trained = r.labels.slice(first);
      // The context ends with the start of the harmful response, right after the assistant header (upstream's
      // prefix sampler leaves every third record's prefix empty: then the reset comes first).
      const harmful = TRIPLES[i]!.output;
      const start = context.split('<|start_header_id|>assistant<|end_header_id|>\n\n')[1] ?? '';
      expect(harmful.startsWith(start)).toBe(true);
      if (i === 1) expect(start.length).toBeGreaterThan(0);
      // Trained: exactly the reset token, the safe response, the end-of-turn token.
      expect(trained[0]).toBe(reset);
      expect(trained).toEqual(r.input_ids.slice(first));
      expect(tok.decode(trained)).toBe(`<|reserved_special_token_0|>${TRIPLES[i]!.safe_response}<|eot_id|>`);
    }
    // Vanilla rows: the safe response alone, no reset.
    for (const r of rows.filter((x) => x.kind === 'vanilla')) expect(r.labels).not.toContain(reset);
  });

  it('paper format too, and a tokenizer without a free special token needs --reset-token', () => {
    const { rows } = build({ template: 'paper' });
    const bt = rows.find((r) => r.kind === 'backtrack')!;
    const first = bt.labels.findIndex((l) => l !== IGNORE);
    expect(bt.labels[first]).toBe(128002);
    expect(() =>
      buildDertaDataset({
        triples: TRIPLES,
        tokenizer: fixtureTokenizer('mistral'),
        variant: 'backtrack',
        mode: 'paper',
        seed: 1,
        keepRows: true,
      }),
    ).toThrow(/has no <\|reserved_special_token_0\|>; pass --reset-token/);
    expect(() => build({ resetToken: 'RESET' })).toThrow(
      /--reset-token 'RESET' is not one added special token/,
    );
    const custom = build({ resetToken: '<|reserved_special_token_5|>' }).rows.find(
      (r) => r.kind === 'backtrack',
    )!;
    expect(custom.labels).toContain(fixtureTokenizer('llama3').tokenToId('<|reserved_special_token_5|>'));
  });
});
