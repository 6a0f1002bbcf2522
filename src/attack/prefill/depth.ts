import { InputError } from '../../errors.js';
import type { DertaTokenizer } from '../../text/tokenizer.js';
import { readResponses, type ResponseRecord } from '../../dataset/responses.js';
import type { Behavior } from '../../types.js';

/**
 * The two facts a prefill-depth probe (Qi et al. 2024, "Safety Alignment Should Be Made More Than Just a
 * Few Tokens Deep") rests on: which harmful response belongs to a goal, and the text of exactly its first k
 * tokens in the target model's tokenizer.
 */

/** The start of a response and its length in tokens when encoded alone (no special tokens). */
export interface TokenPrefix {
  /** Tokens of `text`: the requested k, or fewer where no cut gives exactly k (see tokenPrefix). */
  tokens: number;
  text: string;
}

/**
 * The first `k` tokens of `response` as text that re-encodes to exactly `k` tokens. Decoding the first k
 * ids is usually that text; where it is not (a merge that differs at the cut), the nearest character prefix
 * of the response that encodes to k tokens is taken, shorter first. Where no character prefix has exactly
 * k tokens (the k-th token ends inside a character that byte-level BPE spells in several tokens, such as an
 * emoji), the cut moves back before that character and `tokens` says how many it holds. Throws when the
 * response has fewer than k tokens.
 */
export function tokenPrefix(tok: DertaTokenizer, response: string, k: number): TokenPrefix {
  if (k === 0) return { tokens: 0, text: '' };
  const ids = tok.encode(response, false);
  if (ids.length < k) {
    throw new InputError(`the harmful response has ${ids.length} tokens, fewer than k = ${k}`);
  }
  const count = (text: string): number => tok.encode(text, false).length;
  const decoded = tok.decode(ids.slice(0, k));
  if (response.startsWith(decoded) && count(decoded) === k) return { tokens: k, text: decoded };
  const near = Math.min(decoded.length, response.length);
  for (let d = 0; d <= 32; d++) {
    for (const len of [near - d, near + d]) {
      if (len <= 0 || len > response.length || splitsSurrogate(response, len)) continue;
      const text = response.slice(0, len);
      if (count(text) === k) return { tokens: k, text };
    }
  }
  // No exact cut: the longest character prefix with fewer than k tokens.
  for (let len = Math.min(near, response.length); len > 0; len--) {
    if (splitsSurrogate(response, len)) continue;
    const text = response.slice(0, len);
    const n = count(text);
    if (n < k) return { tokens: n, text };
  }
  return { tokens: 0, text: '' };
}

function splitsSurrogate(s: string, at: number): boolean {
  const c = s.charCodeAt(at - 1);
  return c >= 0xd800 && c <= 0xdbff;
}

/** Harmful responses by goal, read from a responses file (any shape `refusenik judge` reads). */
export class HarmfulResponses {
  private readonly byId = new Map<string, string>();
  private readonly byGoal = new Map<string, string>();

  constructor(
    readonly file: string,
    records: ResponseRecord[],
  ) {
    for (const r of records) {
      const text = r.response.trimStart();
      if (text === '') continue;
      // The first response per goal wins, so a file's order decides and re-runs agree.
      if (r.id !== undefined && !this.byId.has(r.id)) this.byId.set(r.id, text);
      const key = goalKey(r.goal || r.prompt);
      if (key !== '' && !this.byGoal.has(key)) this.byGoal.set(key, text);
    }
    if (this.byGoal.size === 0 && this.byId.size === 0) {
      throw new InputError('the harmful-response source holds no non-empty response', { file });
    }
  }

  static read(file: string, dataDir: string, responseField?: string): HarmfulResponses {
    return new HarmfulResponses(file, readResponses(file, { dataDir, responseField }));
  }

  get size(): number {
    return Math.max(this.byId.size, this.byGoal.size);
  }

  /** The goal's harmful response: by the dataset's id where the source has it, else by the goal's text. */
  find(b: Behavior): string | undefined {
    return this.byGoal.get(goalKey(b.text)) ?? this.byId.get(b.id);
  }

  require(b: Behavior): string {
    const found = this.find(b);
    if (found === undefined) {
      throw new InputError(
        `no harmful response for goal ${b.id} ('${b.text.slice(0, 60)}') in the source (matched by goal ` +
          'text, whitespace and case ignored, or by id)',
        { file: this.file, field: 'source' },
      );
    }
    return found;
  }
}

function goalKey(text: string): string {
  return text.trim().replace(/\s+/g, ' ').toLowerCase();
}
