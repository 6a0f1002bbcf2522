import { InputError } from '../errors.js';
import { readRecords } from '../dataset/records.js';
import type { SafetyTriple } from './types.js';

/**
 * Turns PKU-SafeRLHF-style preference records (a prompt, two responses and a safety flag per response) into
 * DeRTa safety triples: the unsafe response becomes `output` (r̂) and the safe one `safe_response` (r).
 * Only pairs with exactly one safe and one unsafe response qualify. This is how third-party reproductions
 * rebuild upstream's missing safety file; it is not bit-exact with upstream.
 */

export interface PkuFields {
  prompt: string;
  responses: [string, string];
  safe: [string, string];
}

export const PKU_FIELDS: PkuFields = {
  prompt: 'prompt',
  responses: ['response_0', 'response_1'],
  safe: ['is_response_0_safe', 'is_response_1_safe'],
};

export interface PkuConvertOptions {
  fields?: PkuFields;
  /** Keep only the first qualifying record per prompt (PKU repeats prompts). Default true. */
  dedupe?: boolean;
}

export interface PkuConvertResult {
  triples: SafetyTriple[];
  /** Why records were left out, with counts. */
  skipped: { both_safe: number; both_unsafe: number; duplicate_prompt: number; empty: number };
  read: number;
}

export function convertPku(file: string, opts: PkuConvertOptions = {}): PkuConvertResult {
  const f = opts.fields ?? PKU_FIELDS;
  const dedupe = opts.dedupe ?? true;
  const seen = new Set<string>();
  const result: PkuConvertResult = {
    triples: [],
    skipped: { both_safe: 0, both_unsafe: 0, duplicate_prompt: 0, empty: 0 },
    read: 0,
  };
  for (const rec of readRecords(file)) {
    result.read++;
    const loc = { file, line: rec.line };
    if (!rec.value || typeof rec.value !== 'object' || Array.isArray(rec.value)) {
      throw new InputError('expected an object record', loc);
    }
    const obj = rec.value as Record<string, unknown>;
    const prompt = stringField(obj, f.prompt, loc);
    const responses = f.responses.map((name) => stringField(obj, name, loc));
    const safe = f.safe.map((name) => boolField(obj, name, loc));
    if (safe[0] === safe[1]) {
      if (safe[0]) result.skipped.both_safe++;
      else result.skipped.both_unsafe++;
      continue;
    }
    const safeIdx = safe[0] ? 0 : 1;
    const safeResponse = responses[safeIdx] as string;
    const harmful = responses[1 - safeIdx] as string;
    if (!prompt.trim() || !safeResponse.trim() || !harmful.trim()) {
      result.skipped.empty++;
      continue;
    }
    if (dedupe) {
      if (seen.has(prompt)) {
        result.skipped.duplicate_prompt++;
        continue;
      }
      seen.add(prompt);
    }
    result.triples.push({ instruction: prompt, output: harmful, safe_response: safeResponse, origin: loc });
  }
  return result;
}

function stringField(
  obj: Record<string, unknown>,
  field: string,
  loc: { file: string; line: number },
): string {
  const v = obj[field];
  if (typeof v !== 'string') {
    throw new InputError(v === undefined ? 'missing field' : `expected a string, got ${typeof v}`, {
      ...loc,
      field,
    });
  }
  return v;
}

function boolField(
  obj: Record<string, unknown>,
  field: string,
  loc: { file: string; line: number },
): boolean {
  const v = obj[field];
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'True' || v === 1) return true;
  if (v === 'false' || v === 'False' || v === 0) return false;
  throw new InputError(
    v === undefined ? 'missing field' : `expected true or false, got ${JSON.stringify(v)}`,
    {
      ...loc,
      field,
    },
  );
}
