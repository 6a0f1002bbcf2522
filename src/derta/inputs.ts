import { InputError } from '../errors.js';
import { readRecords, type SourceRecord } from '../dataset/records.js';
import type { ContextMessage, HelpfulPair, SafetyTriple } from './types.js';

/**
 * Reads safety triples and helpfulness pairs from JSON / JSONL / CSV files. Upstream's field names are the
 * defaults; a field map renames them for other datasets (`{instruction: 'prompt', output: 'unsafe'}`).
 */

export type TripleField = 'instruction' | 'output' | 'safe_response';
export type HelpfulField = 'instruction' | 'output';
export type FieldMap<F extends string> = Partial<Record<F, string>>;

const TRIPLE_FIELDS: readonly TripleField[] = ['instruction', 'output', 'safe_response'];
const HELPFUL_FIELDS: readonly HelpfulField[] = ['instruction', 'output'];

export function loadTriples(file: string, fields: FieldMap<TripleField> = {}): SafetyTriple[] {
  return readRecords(file).map((rec) => {
    const v = pickFields(rec, file, TRIPLE_FIELDS, fields);
    const messages = conversationOf(rec, file);
    return {
      instruction: v.instruction,
      output: v.output,
      safe_response: v.safe_response,
      ...(messages ? { messages } : {}),
      origin: { file, line: rec.line },
    };
  });
}

/**
 * A multi-turn triple's `messages`: the conversation up to the harmful answer, [{role, content}], roles system
 * (first only), user and assistant, ending with a user turn. Absent or null: a single-turn triple.
 */
function conversationOf(rec: SourceRecord, file: string): ContextMessage[] | undefined {
  const raw = (rec.value as Record<string, unknown>)['messages'];
  if (raw === undefined || raw === null) return undefined;
  const where = { file, line: rec.line, field: 'messages' };
  if (!Array.isArray(raw) || raw.length === 0)
    throw new InputError('expected a non-empty list of turns', where);
  const out: ContextMessage[] = raw.map((m: unknown, i) => {
    const t = m as { role?: unknown; content?: unknown } | null;
    const role = t?.role;
    if ((role !== 'system' || i > 0) && role !== 'user' && role !== 'assistant')
      throw new InputError(`turn ${i + 1}: expected role user or assistant (system first only)`, where);
    if (typeof t?.content !== 'string')
      throw new InputError(`turn ${i + 1}: expected a string content`, where);
    return { role, content: t.content };
  });
  if (out.at(-1)?.role !== 'user')
    throw new InputError('the conversation must end with the user turn the harmful answer replied to', where);
  return out;
}

export function loadHelpful(file: string, fields: FieldMap<HelpfulField> = {}): HelpfulPair[] {
  return readRecords(file).map((rec) => {
    const v = pickFields(rec, file, HELPFUL_FIELDS, fields);
    return { instruction: v.instruction, output: v.output, origin: { file, line: rec.line } };
  });
}

/**
 * Parses `instruction=prompt,output=response` into a field map, rejecting names the target does not have.
 */
export function parseFieldMap<F extends string>(
  spec: string | undefined,
  allowed: readonly F[],
  flag: string,
): FieldMap<F> {
  const map: FieldMap<F> = {};
  if (!spec) return map;
  for (const part of spec.split(',')) {
    const [key, value] = part.split('=').map((s) => s.trim());
    if (!key || !value)
      throw new InputError(`${flag} expects field=column pairs separated by commas, got '${part}'`);
    if (!(allowed as readonly string[]).includes(key)) {
      throw new InputError(`${flag}: unknown field '${key}'; expected one of ${allowed.join(', ')}`);
    }
    map[key as F] = value;
  }
  return map;
}

function pickFields<F extends string>(
  rec: SourceRecord,
  file: string,
  wanted: readonly F[],
  map: FieldMap<F>,
): Record<F, string> {
  if (!rec.value || typeof rec.value !== 'object' || Array.isArray(rec.value)) {
    throw new InputError('expected an object record', { file, line: rec.line });
  }
  const obj = rec.value as Record<string, unknown>;
  const out = {} as Record<F, string>;
  for (const field of wanted) {
    const column = map[field] ?? field;
    const value = obj[column];
    if (value === undefined || value === null) {
      throw new InputError(`missing field (needed as '${field}')`, { file, line: rec.line, field: column });
    }
    if (typeof value !== 'string') {
      throw new InputError(`expected a string, got ${typeof value}`, { file, line: rec.line, field: column });
    }
    out[field] = value;
  }
  return out;
}
