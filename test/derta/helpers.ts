import path from 'node:path';
import { FIXTURES } from '../helpers/cli.js';
import { IGNORE } from '../../src/derta/labels.js';
import { loadTokenizer, type DertaTokenizer } from '../../src/text/tokenizer.js';
import type { SafetyTriple, TokenizedRow } from '../../src/derta/types.js';

export type FixtureName = 'llama3' | 'qwen3' | 'mistral';
export const FIXTURE_NAMES: readonly FixtureName[] = ['llama3', 'qwen3', 'mistral'];

const loaded = new Map<FixtureName, DertaTokenizer>();

/** The fixture tokenizers (../shared/fixtures/tokenizers), loaded once per test file. */
export function fixtureTokenizer(name: FixtureName): DertaTokenizer {
  let tok = loaded.get(name);
  if (!tok) {
    tok = loadTokenizer(path.join(FIXTURES, 'tokenizers', name));
    loaded.set(name, tok);
  }
  return tok;
}

/**
 * A Mistral-style [INST] template written for these tests (the Mistral fixture has no chat_template).
 */
export const MISTRAL_STYLE_TEMPLATE =
  "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}[INST] {{ m.content }} [/INST]" +
  '{% else %}{{ m.content }}{{ eos_token }}{% endif %}{% endfor %}';

export function triple(instruction: string, output: string, safe_response: string): SafetyTriple {
  return { instruction, output, safe_response };
}

/** Index of the first trained position; asserts every later position is trained too (one contiguous span). */
export function trainedSpan(row: TokenizedRow): { start: number; end: number } {
  const start = row.labels.findIndex((l) => l !== IGNORE);
  if (start < 0) return { start: row.labels.length, end: row.labels.length };
  for (let i = start; i < row.labels.length; i++) {
    if (row.labels[i] === IGNORE) throw new Error(`label span not contiguous at ${i}`);
  }
  return { start, end: row.labels.length };
}

/**
 * The text of ids[start:end] as it appears in the decoded row: decode(ids[:end]) minus decode(ids[:start]).
 * Decoding the span alone would lose SentencePiece's leading space (Mistral's decoder strips it).
 */
export function spanText(tok: DertaTokenizer, ids: readonly number[], start: number, end: number): string {
  const before = tok.decode(ids.slice(0, start));
  const upTo = tok.decode(ids.slice(0, end));
  if (!upTo.startsWith(before)) throw new Error('decoded prefix is not a prefix of the decoded row');
  return upTo.slice(before.length);
}
