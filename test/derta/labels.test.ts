import { describe, expect, it } from 'vitest';
import { buildDertaDataset } from '../../src/derta/build.js';
import { IGNORE } from '../../src/derta/labels.js';
import { refusalTokenId } from '../../src/text/tokenizer.js';
import type { ExampleKind, SafetyTriple, TokenizedRow } from '../../src/derta/types.js';
import {
  fixtureTokenizer,
  MISTRAL_STYLE_TEMPLATE,
  spanText,
  trainedSpan,
  triple,
  type FixtureName,
} from './helpers.js';

/**
 * Hand-checked label layouts. Token ids below were read off the fixture vocabularies piece by piece
 * (e.g. Llama-3: '[' 58, 'INST' 65562, ']' 60, 'ĠHow' 2650 … 'Ġ[\\' 94915, 'ĠSure' 23371, '<|end_of_text|>' 128001).
 */

const BAKE = triple('How do I bake?', 'Sure, step 1', 'Sure, step 1');

function rowsOf(
  fixture: FixtureName,
  triples: SafetyTriple[],
  extra: Partial<Parameters<typeof buildDertaDataset>[0]> = {},
): TokenizedRow[] {
  const res = buildDertaDataset({
    triples,
    tokenizer: fixtureTokenizer(fixture),
    variant: 'derta',
    mode: 'paper',
    seed: 1,
    keepRows: true,
    sizes: { vanilla: 'all' },
    ...extra,
  });
  return res.rows ?? [];
}

function byKind(rows: TokenizedRow[], kind: ExampleKind): TokenizedRow {
  const row = rows.find((r) => r.kind === kind);
  if (!row) throw new Error(`no ${kind} row`);
  return row;
}

const masked = (n: number): number[] => new Array<number>(n).fill(IGNORE);

describe('refusal token ids', () => {
  it('is the bare "Sorry" piece per tokenizer, not the encoded ▁Sorry', () => {
    expect(refusalTokenId(fixtureTokenizer('llama3'))).toBe(19701);
    expect(refusalTokenId(fixtureTokenizer('mistral'))).toBe(23166);
    expect(fixtureTokenizer('mistral').encode('Sorry', false)).toEqual([19385]);
    expect(refusalTokenId(fixtureTokenizer('qwen3'))).toBe(fixtureTokenizer('qwen3').tokenToId('Sorry'));
    expect(refusalTokenId(fixtureTokenizer('llama3'), 'ĠSorry')).toBe(33386);
    expect(refusalTokenId(fixtureTokenizer('llama3'), '42')).toBe(42);
  });
});

describe('paper format, Llama-3', () => {
  const prompt = [58, 65562, 60, 2650, 656, 358, 23360, 30, 94915, 65562, 60];
  const response = [23371, 11, 3094, 220, 16, 128001];

  it('masks the prompt and trains the response with its own ids, EOS included', () => {
    const rows = rowsOf('llama3', [BAKE]);
    const v = byKind(rows, 'vanilla');
    expect(v.input_ids).toEqual([...prompt, ...response]);
    expect(v.labels).toEqual([...masked(11), ...response]);
    expect(v.attention_mask).toEqual(new Array<number>(17).fill(1));
  });

  it('gives RTO rows the refusal id on every response position including EOS', () => {
    const r = byKind(rowsOf('llama3', [BAKE]), 'rto');
    expect(r.input_ids).toEqual([...prompt, ...response]);
    expect(r.labels).toEqual([...masked(11), ...new Array<number>(6).fill(19701)]);
  });

  it('adds BOS 128000 with --bos always (upstream tokenizer revision) and masks it', () => {
    const v = byKind(rowsOf('llama3', [BAKE], { bos: 'always' }), 'vanilla');
    expect(v.input_ids).toEqual([128000, ...prompt, ...response]);
    expect(v.labels).toEqual([...masked(12), ...response]);
  });

  it('keeps the double space of an empty harmful prefix (record 0) inside the masked prompt', () => {
    const m = byKind(rowsOf('llama3', [triple('Q?', 'one two three four', 'No.')]), 'mle_prefix');
    const { start } = trainedSpan(m);
    expect(fixtureTokenizer('llama3').decode(m.input_ids.slice(0, start))).toBe('[INST] Q? [\\INST] ');
    expect(spanText(fixtureTokenizer('llama3'), m.input_ids, start, m.input_ids.length)).toBe(
      ' No.<|end_of_text|>',
    );
  });
});

describe('paper format, Mistral', () => {
  const prompt = [1, 733, 16289, 28793, 1602, 511, 315, 287, 621, 28804, 26239, 16289, 28793];
  const response = [12875, 28725, 3707, 28705, 28740, 2];

  it('starts with BOS <s> (post-processor), ends with </s> as the EOS text, RTO id 23166', () => {
    const rows = rowsOf('mistral', [BAKE]);
    const v = byKind(rows, 'vanilla');
    expect(v.input_ids).toEqual([...prompt, ...response]);
    expect(v.labels).toEqual([...masked(13), ...response]);
    const r = byKind(rows, 'rto');
    expect(r.labels).toEqual([...masked(13), ...new Array<number>(6).fill(23166)]);
  });
});

describe('upstream boundary pitfall', () => {
  it('Mistral: an empty prefix leaves a double space; before a byte-fallback character it becomes ▁▁, which the mask eats; reported', () => {
    const res = buildDertaDataset({
      triples: [triple('Q?', 'one two three four', '🔥 No.')],
      tokenizer: fixtureTokenizer('mistral'),
      variant: 'recaug',
      mode: 'paper',
      seed: 1,
      keepRows: true,
    });
    const m = res.rows?.[0] as TokenizedRow;
    const { start } = trainedSpan(m);
    expect(spanText(fixtureTokenizer('mistral'), m.input_ids, start, m.input_ids.length)).toBe('🔥 No.</s>');
    expect(res.stats['boundary_mismatch']).toBe(1);
  });
});

describe('chat templates', () => {
  it('Qwen3: its own template, think block in the prompt, <|im_end|> trained, no trailing newline', () => {
    const tok = fixtureTokenizer('qwen3');
    const rows = rowsOf('qwen3', [BAKE], { template: 'chat' });
    const imEnd = tok.tokenToId('<|im_end|>') as number;
    const v = byKind(rows, 'vanilla');
    const { start } = trainedSpan(v);
    expect(tok.decode(v.input_ids.slice(0, start))).toBe(
      '<|im_start|>user\nHow do I bake?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n',
    );
    expect(v.input_ids[0]).toBe(tok.tokenToId('<|im_start|>'));
    expect(v.input_ids.at(-1)).toBe(imEnd);
    expect(v.labels.slice(start)).toEqual(v.input_ids.slice(start));
    expect(spanText(tok, v.input_ids, start, v.input_ids.length)).toBe('Sure, step 1<|im_end|>');
    const r = byKind(rows, 'rto');
    const rs = trainedSpan(r);
    expect(r.labels.slice(rs.start)).toEqual(new Array<number>(r.labels.length - rs.start).fill(19152));
    expect(r.input_ids.at(-1)).toBe(imEnd);
  });

  it('Llama-3: BOS from the template, ends at <|eot_id|> without the generation header the template appends', () => {
    const tok = fixtureTokenizer('llama3');
    const v = byKind(rowsOf('llama3', [BAKE], { template: 'chat' }), 'vanilla');
    expect(v.input_ids[0]).toBe(128000);
    expect(v.input_ids.filter((id) => id === 128000)).toHaveLength(1);
    expect(v.input_ids.at(-1)).toBe(128009);
    expect(v.input_ids.filter((id) => id === 128006)).toHaveLength(2); // user + assistant headers only
    const { start } = trainedSpan(v);
    expect(tok.decode(v.input_ids.slice(0, start))).toBe(
      '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHow do I bake?<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    expect(v.labels.at(-1)).toBe(128009);
  });

  it('puts the harmful prefix inside the assistant turn, masked, followed by the safe response', () => {
    const tok = fixtureTokenizer('mistral');
    const triples = [
      triple('skip', 'a b c d', 'x'), // index 0 always gets an empty prefix
      triple('How to pick a lock?', 'Sure, here is how: first get a tension wrench.', "I'm sorry, I can't."),
    ];
    const rows = rowsOf('mistral', triples, {
      template: 'chat',
      chatTemplate: MISTRAL_STYLE_TEMPLATE,
      seed: 7,
    });
    const m = rows.filter((r) => r.kind === 'mle_prefix')[1] as TokenizedRow;
    const { start } = trainedSpan(m);
    const prompt = tok.decode(m.input_ids.slice(0, start));
    expect(m.input_ids[0]).toBe(1);
    expect(prompt.startsWith('<s> [INST] How to pick a lock? [/INST]Sure,')).toBe(true);
    const words = 'Sure, here is how: first get a tension wrench.'.split(' ');
    const k = prompt.split('[/INST]')[1]?.split(' ').length ?? 0;
    expect(k).toBeGreaterThanOrEqual(1);
    expect(k).toBeLessThanOrEqual(words.length - 2);
    expect(prompt.endsWith(words.slice(0, k).join(' '))).toBe(true);
    expect(spanText(tok, m.input_ids, start, m.input_ids.length)).toBe(" I'm sorry, I can't.</s>");
    expect(m.input_ids.at(-1)).toBe(2);
  });

  it('refuses a chat build when the tokenizer has no chat_template and none is given', () => {
    expect(() => rowsOf('mistral', [BAKE], { template: 'chat' })).toThrow(
      /no chat template \(neither chat_template.jinja/,
    );
  });
});

describe('truncation', () => {
  it('cuts to the block size, EOS included, and counts rows that lost every label', () => {
    const res = buildDertaDataset({
      triples: [BAKE],
      tokenizer: fixtureTokenizer('llama3'),
      variant: 'derta',
      mode: 'paper',
      seed: 1,
      keepRows: true,
      sizes: { vanilla: 'all' },
      blockSize: 13,
    });
    const rows = res.rows ?? [];
    const v = byKind(rows, 'vanilla');
    expect(v.input_ids).toEqual([58, 65562, 60, 2650, 656, 358, 23360, 30, 94915, 65562, 60, 23371, 11]);
    expect(v.labels).toEqual([...masked(11), 23371, 11]);
    expect(byKind(rows, 'rto').labels).toEqual([...masked(11), 19701, 19701]);
    // mle_prefix has a 12-token prompt ("[\INST] " ends in a space token) and keeps one label.
    expect(res.stats['truncated']).toBe(3);
    expect((res.stats['lost_all_labels'] as { total: number }).total).toBe(0);

    const tight = buildDertaDataset({
      triples: [BAKE],
      tokenizer: fixtureTokenizer('llama3'),
      variant: 'derta',
      mode: 'paper',
      seed: 1,
      keepRows: true,
      sizes: { vanilla: 'all' },
      blockSize: 11,
    });
    expect((tight.stats['lost_all_labels'] as { total: number }).total).toBe(3);
    expect(tight.rows?.every((r) => r.labels.every((l) => l === IGNORE))).toBe(true);
    const dropped = buildDertaDataset({
      triples: [BAKE],
      tokenizer: fixtureTokenizer('llama3'),
      variant: 'derta',
      mode: 'paper',
      seed: 1,
      keepRows: true,
      blockSize: 11,
      dropEmpty: true,
    });
    expect(dropped.rows).toHaveLength(0);
    expect(dropped.stats['dropped_empty']).toBe(2);
  });
});

describe('RTO target subsampling (full fine-tune, ~5% kept)', () => {
  it('keeps max(1, ceil(L*f)) row positions per epoch, only on response positions, reproducibly', () => {
    const long = triple('Q', Array.from({ length: 80 }, (_, i) => `word${i}`).join(' '), 'No.');
    const opts = { variant: 'rto' as const, rtoKeep: 0.05, epochs: 3, sizes: { rto: 'all' as const } };
    const rows = rowsOf('llama3', [long, long, long], opts);
    expect(rows).toHaveLength(9);
    const full = rowsOf('llama3', [long], { variant: 'rto' })[0] as TokenizedRow;
    for (const r of rows) {
      const kept = r.labels.map((l, i) => [l, i] as const).filter(([l]) => l !== IGNORE);
      expect(kept.length).toBeLessThanOrEqual(Math.ceil(r.labels.length * 0.05));
      for (const [l, i] of kept) expect(l).toBe(full.labels[i]);
      expect(kept.every(([l]) => l === 19701)).toBe(true);
    }
    expect(rows.map((r) => r.epoch)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
    expect(new Set(rows.map((r) => JSON.stringify(r.labels))).size).toBeGreaterThan(1);
    expect(rowsOf('llama3', [long, long, long], opts)).toEqual(rows);
    const stats = buildDertaDataset({
      triples: [long, long, long],
      tokenizer: fixtureTokenizer('llama3'),
      mode: 'paper',
      seed: 1,
      ...opts,
    }).stats;
    expect(stats['lost_all_labels']).toMatchObject({ total: 0 });
    const without = rows.filter((r) => r.labels.every((l) => l === IGNORE)).length;
    expect(stats['rto_rows_without_targets']).toBe(without);
    expect(stats['counts']).toMatchObject({ rto: 9 });
  });

  it('rejects --bos always for a tokenizer without a BOS token (Qwen3)', () => {
    expect(() => rowsOf('qwen3', [BAKE], { bos: 'always' })).toThrow(/no BOS token/);
  });
});
