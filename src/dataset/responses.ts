import { FIELD_ALIASES } from './fields.js';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { readRecords, type RecordFormat } from './records.js';

/**
 * Recorded (prompt, response) pairs from files, for offline judging (`refusenik judge`), import as a run
 * (`refusenik import`) and the refusal-position analysis. Three shapes, detected per record:
 *
 * - objects `{prompt|question|instruction|..., response|completion|output}` (JSONL, JSON, CSV): the generic
 *   shape, also every DeRTa released-results file except the two below;
 * - a plain string holding the prompt and the model's continuation as one text (DeRTa's completion-attack
 *   results): the prompt is stripped by matching it against the test prompts (whitespace-insensitively,
 *   because the decoder dropped some spaces) or, failing that, cut after the first "Step 1:";
 * - a PAIR "FINAL SUMMARY STATISTICS" string (DeRTa's PAIR results): the goal, the example jailbreak
 *   prompt and response when there is one, and the summary figures in `meta`.
 */

export type ResponseShape = 'record' | 'completion' | 'pair-summary';

export interface ResponseRecord {
  /** 0-based position in the file. */
  index: number;
  /** 1-based line where the record starts. */
  line: number;
  /** The record's own id field, when it has one. */
  id?: string;
  /** The plain goal where the file says it (PAIR's Goal, a `goal` field); else the prompt. */
  goal: string;
  /** What was sent to the model ('' when unknown). */
  prompt: string;
  /** The model's answer only (never the prompt). */
  response: string;
  category?: string;
  shape: ResponseShape;
  /** Other string/number/boolean fields of the record, and what the shape parser found. */
  meta: Record<string, string>;
}

export interface ReadResponsesOptions {
  format?: RecordFormat;
  /** Field holding the prompt; default the first of PROMPT_FIELDS present. */
  promptField?: string;
  /** Field holding the response; default the first of RESPONSE_FIELDS present. */
  responseField?: string;
  /** A dataset of the prompts the completion-attack strings start with (default: the derta pack's). */
  prompts?: string;
  /** The data folder, to find the derta pack's completion-attack prompts. */
  dataDir?: string;
}

const PROMPT_FIELDS = FIELD_ALIASES.prompt;
const RESPONSE_FIELDS = FIELD_ALIASES.response;
const GOAL_ONLY_FIELDS = ['goal', 'behavior'];
const CATEGORY_FIELDS = FIELD_ALIASES.category;
const ID_FIELDS = FIELD_ALIASES.id;
const PAIR_MARKER = 'FINAL SUMMARY STATISTICS';
const COMPLETION_PROMPTS = path.join('derta', 'data', 'test', 'safety_completionattack.json');

export function readResponses(file: string, opts: ReadResponsesOptions = {}): ResponseRecord[] {
  if (!existsSync(file) || !statSync(file).isFile()) throw new InputError('no such input file', { file });
  const records = readRecords(file, opts.format);
  if (records.length === 0) throw new InputError('no records in the input file', { file });
  let prompts: CompletionPrompts | undefined;
  return records.map(({ value, line }, index): ResponseRecord => {
    if (typeof value === 'string') {
      if (value.includes(PAIR_MARKER)) return pairSummary(value, index, line);
      prompts ??= CompletionPrompts.load(opts, file);
      return completion(value, index, line, prompts);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new InputError('expected an object with prompt and response fields, or a string', { file, line });
    }
    return objectRecord(value as Record<string, unknown>, index, line, file, opts);
  });
}

function objectRecord(
  rec: Record<string, unknown>,
  index: number,
  line: number,
  file: string,
  opts: ReadResponsesOptions,
): ResponseRecord {
  const pick = (wanted: string | undefined, fields: readonly string[], what: string): string | undefined => {
    if (wanted !== undefined) {
      if (!(wanted in rec)) throw new InputError(`no field '${wanted}'`, { file, line, field: wanted });
      return wanted;
    }
    const found = fields.find((f) => f in rec);
    if (found === undefined && what === 'response') {
      throw new InputError(`no response field (looked for ${fields.join(', ')}; set --response-field)`, {
        file,
        line,
      });
    }
    return found;
  };
  const promptKey = pick(opts.promptField, PROMPT_FIELDS, 'prompt');
  const responseKey = pick(opts.responseField, RESPONSE_FIELDS, 'response') as string;
  const str = (key: string | undefined): string | undefined => {
    if (key === undefined) return undefined;
    const v = rec[key];
    if (v === null || v === undefined) return '';
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new InputError('expected a string', { file, line, field: key });
  };
  const response = str(responseKey) as string;
  const prompt = str(promptKey) ?? '';
  const goalKey = GOAL_ONLY_FIELDS.find((f) => f in rec && f !== promptKey);
  const goal = str(goalKey) ?? prompt;
  const idKey = ID_FIELDS.find((f) => f in rec);
  const categoryKey = CATEGORY_FIELDS.find((f) => f in rec);
  const used = new Set([promptKey, responseKey, goalKey, idKey, categoryKey]);
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(rec)) {
    if (!used.has(k) && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'))
      meta[k] = String(v);
  }
  return {
    index,
    line,
    ...(idKey ? { id: str(idKey) as string } : {}),
    goal,
    prompt,
    response,
    ...(categoryKey ? { category: str(categoryKey) as string } : {}),
    shape: 'record',
    meta,
  };
}

/** The test prompts completion-attack strings start with, compared without whitespace. */
class CompletionPrompts {
  private constructor(
    private readonly prompts: { text: string; squashed: string }[],
    readonly source: string | undefined,
  ) {}

  static load(opts: ReadResponsesOptions, inputFile: string): CompletionPrompts {
    let file = opts.prompts;
    if (file === undefined && opts.dataDir) {
      const packed = path.join(opts.dataDir, COMPLETION_PROMPTS);
      if (existsSync(packed)) file = packed;
    }
    if (file === undefined) return new CompletionPrompts([], undefined);
    if (!existsSync(file)) throw new InputError('no such prompts file', { file, field: 'prompts' });
    const texts = readResponsesPrompts(file, inputFile);
    return new CompletionPrompts(
      texts.map((text) => ({ text, squashed: squash(text) })),
      file,
    );
  }

  /** Where the prompt ends in `text`: the longest test prompt that prefixes it, ignoring whitespace. */
  match(text: string): { prompt: string; end: number } | undefined {
    let best: { prompt: string; end: number } | undefined;
    const squashed = squash(text);
    for (const p of this.prompts) {
      if (p.squashed === '' || !squashed.startsWith(p.squashed)) continue;
      if (best && best.prompt.length >= p.text.length) continue;
      best = { prompt: p.text, end: offsetAfterNonSpace(text, p.squashed.length) };
    }
    return best;
  }
}

function readResponsesPrompts(file: string, inputFile: string): string[] {
  return readRecords(file).map(({ value, line }) => {
    if (typeof value === 'string') return value;
    if (value && typeof value === 'object') {
      const rec = value as Record<string, unknown>;
      const key = PROMPT_FIELDS.find((f) => typeof rec[f] === 'string');
      if (key) return rec[key] as string;
    }
    throw new InputError(`a prompt record without a prompt field (for ${inputFile})`, { file, line });
  });
}

function squash(s: string): string {
  return s.replace(/\s+/g, '');
}

/** The offset in `text` just after its n-th non-whitespace character. */
function offsetAfterNonSpace(text: string, n: number): number {
  if (n === 0) return 0;
  let seen = 0;
  for (let i = 0; i < text.length; i++) {
    if (!/\s/.test(text[i] as string) && ++seen === n) return i + 1;
  }
  return text.length;
}

function completion(text: string, index: number, line: number, prompts: CompletionPrompts): ResponseRecord {
  const base = { index, line, shape: 'completion' as const };
  const m = prompts.match(text);
  if (m) {
    const prompt = text.slice(0, m.end);
    return {
      ...base,
      goal: m.prompt,
      prompt,
      response: text.slice(m.end),
      meta: { prompt_match: 'test-prompt' },
    };
  }
  // Every DeRTa completion-attack prompt ends with "Step 1:"; the continuation follows it.
  const step = /Step 1:/.exec(text);
  if (step) {
    const end = step.index + step[0].length;
    const prompt = text.slice(0, end);
    return { ...base, goal: prompt, prompt, response: text.slice(end), meta: { prompt_match: 'step-1' } };
  }
  return { ...base, goal: '', prompt: '', response: text, meta: { prompt_match: 'none' } };
}

/** Parses PAIR's end-of-run summary for one goal. */
export function pairSummary(text: string, index: number, line: number): ResponseRecord {
  const field = (name: string): string | undefined =>
    new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(text)?.[1]?.trim();
  const goal = field('Goal') ?? '';
  const meta: Record<string, string> = {};
  const pairIndex = field('Index');
  if (pairIndex !== undefined) meta['pair_index'] = pairIndex;
  const jailbroken = !/No jailbreaks achieved/.test(text) && /First Jailbreak:/.test(text);
  meta['pair_jailbroken'] = String(jailbroken);
  const first = /First Jailbreak:\s*(\d+)\s*Queries/.exec(text)?.[1];
  if (first) meta['pair_first_jailbreak_queries'] = first;
  const streams = /Total Number of Conv\. Jailbroken:\s*(\d+\/\d+)/.exec(text)?.[1];
  if (streams) meta['pair_jailbroken_streams'] = streams;
  const max = field('Max Score');
  if (max !== undefined) meta['pair_max_score'] = max;
  let prompt = '';
  let response = '';
  const p =
    /Example Jailbreak PROMPT:\s*\n([\s\S]*?)\n\s*Example Jailbreak RESPONSE:[ \t]*\n?([\s\S]*)$/.exec(text);
  if (p) {
    prompt = (p[1] as string).trim();
    response = (p[2] as string).trim();
  }
  return { index, line, goal, prompt: prompt || goal, response, shape: 'pair-summary', meta };
}
