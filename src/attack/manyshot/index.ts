import path from 'node:path';
import { z } from 'zod';
import { InputError } from '../../errors.js';
import { loadTokenizer, type DertaTokenizer } from '../../text/tokenizer.js';
import { resolveDatasetFile } from '../../dataset/load.js';
import { readResponses } from '../../dataset/responses.js';
import type { Behavior, ChatMessage, Prompt } from '../../types.js';
import { Rng } from '../../util/random.js';
import type { Attack, AttackEnv, AttackFactory } from '../attack.js';

/**
 * Many-shot jailbreaking (Anil et al., 2024): the target question follows k faux dialogues in which an
 * assistant answered harmful questions; in-context learning overrides refusal training as k grows (the
 * paper's power law in k). Shots are question/answer pairs from a named responses file (any file `refusenik
 * judge` reads: a run's export, a released result file), never the goal's own pair. Each goal's shots are
 * one seeded order of the pool, so the shots of a smaller k are the first ones of every larger k. One
 * variant per k; `format` turns sends the shots as alternating user/assistant messages, transcript as one
 * user message. `max_prompt_tokens` is checked for every goal and k before any model is called (exact in a
 * tokenizer when one is given, else estimated at 4 characters a token).
 */

export const MANYSHOT_ATTACK = 'manyshot';
const DEFAULT_K = [1, 2, 4, 8, 16, 32, 64, 128, 256];

const Options = z.strictObject({
  /** Harmful Q&A: a responses file (JSONL/JSON/CSV) or `pack:<pack>/<file>`; question = goal/prompt field. */
  source: z.string().min(1),
  /** The field holding the answer (default: response, completion, output, ...). */
  response_field: z.string().min(1).optional(),
  /** Use only records whose field is true/1/yes (e.g. a judge's success flag: `judge_success_gpt4`). */
  harmful_field: z.string().min(1).optional(),
  /** Shots per prompt; a list gives one variant per k. */
  k: z
    .union([z.number().int().min(1).max(4096), z.array(z.number().int().min(1).max(4096)).min(1)])
    .default(DEFAULT_K),
  /** turns: faux user/assistant messages; transcript: one user message holding the dialogue. */
  format: z.enum(['turns', 'transcript']).default('turns'),
  /** Speaker labels of the transcript format. */
  user_label: z.string().min(1).default('User'),
  assistant_label: z.string().min(1).default('Assistant'),
  /** Shot order seed (default: the run's seed). */
  seed: z.number().int().min(0).optional(),
  /** A system message before the shots. */
  system: z.string().optional(),
  /** The most prompt tokens any case may have (the target's context, less room for the answer). */
  max_prompt_tokens: z.number().int().positive().optional(),
  /** The target model's tokenizer (folder or tokenizer.json), for exact counts. */
  tokenizer: z.string().min(1).optional(),
});
type Options = z.infer<typeof Options>;

export interface Shot {
  question: string;
  answer: string;
}

/** What a many-shot case was sent beyond its prompt (written by `prompts`). */
export interface ManyShotFacts {
  k: number;
  /** Prompt tokens: exact content tokens in `tokenizer`, else the 4-characters estimate. */
  prompt_tokens: number;
  tokens_exact: boolean;
}

const TRUE = new Set(['1', 'true', 'yes', 'y']);

function goalKey(text: string): string {
  return text.trim().replace(/\s+/g, ' ').toLowerCase();
}

/** The pool of shots from a responses file: non-empty question and answer, optionally flagged harmful. */
export function readShots(
  file: string,
  dataDir: string,
  opts: Pick<Options, 'response_field' | 'harmful_field'>,
): Shot[] {
  const records = readResponses(file, {
    dataDir,
    ...(opts.response_field ? { responseField: opts.response_field } : {}),
  });
  if (opts.harmful_field !== undefined && !records.some((r) => opts.harmful_field! in r.meta)) {
    throw new InputError(`no record has the field '${opts.harmful_field}'`, { file, field: 'harmful_field' });
  }
  const shots = records
    .filter(
      (r) => opts.harmful_field === undefined || TRUE.has((r.meta[opts.harmful_field] ?? '').toLowerCase()),
    )
    .map((r) => ({ question: (r.goal || r.prompt).trim(), answer: r.response.trim() }))
    .filter((s) => s.question !== '' && s.answer !== '');
  if (!shots.length)
    throw new InputError('the many-shot source holds no usable question/answer pair', { file });
  return shots;
}

/** The goal's shots: the pool without the goal's own pairs, in the goal's seeded order (nested over k). */
export function shotOrder(pool: readonly Shot[], b: Behavior, seed: number): Shot[] {
  const own = goalKey(b.text);
  return new Rng(`${seed}:${MANYSHOT_ATTACK}:${b.id}`).shuffle(
    pool.filter((s) => goalKey(s.question) !== own),
  );
}

export function manyShotPrompt(
  shots: readonly Shot[],
  goal: string,
  opts: Pick<Options, 'format' | 'user_label' | 'assistant_label' | 'system'>,
): Prompt {
  const messages: ChatMessage[] = [];
  if (opts.system !== undefined) messages.push({ role: 'system', content: opts.system });
  if (opts.format === 'turns') {
    for (const s of shots)
      messages.push({ role: 'user', content: s.question }, { role: 'assistant', content: s.answer });
    messages.push({ role: 'user', content: goal });
  } else {
    const turn = (q: string, a?: string) =>
      `${opts.user_label}: ${q}\n\n${opts.assistant_label}:${a === undefined ? '' : ` ${a}`}`;
    messages.push({
      role: 'user',
      content: [...shots.map((s) => turn(s.question, s.answer)), turn(goal)].join('\n\n'),
    });
  }
  return { kind: 'chat', messages };
}

export const manyShotAttack: AttackFactory<typeof Options> = {
  name: MANYSHOT_ATTACK,
  options: Options,
  create(opts, env, where): Attack[] {
    const base = env.source?.file ? path.dirname(env.source.file) : process.cwd();
    const file = /^pack:/.test(opts.source)
      ? packPath(opts.source, env, where)
      : path.resolve(base, opts.source);
    const pool = readShots(file, env.dataDir, opts);
    const tok = opts.tokenizer ? loadTokenizer(path.resolve(base, opts.tokenizer)) : undefined;
    const seed = opts.seed ?? env.seed;
    const ks = [...new Set(Array.isArray(opts.k) ? opts.k : [opts.k])].sort((a, b) => a - b);
    const orders = new Map<string, Shot[]>();
    const orderOf = (b: Behavior): Shot[] => {
      let o = orders.get(b.id);
      if (!o) orders.set(b.id, (o = shotOrder(pool, b, seed)));
      return o;
    };

    return ks.map((k): Attack => {
      const short = (b: Behavior): string | undefined => {
        const n = orderOf(b).length;
        return n < k
          ? `goal ${b.id}: the source has ${n} usable pairs besides the goal's own, fewer than k = ${k}`
          : undefined;
      };
      const build = (b: Behavior): Prompt => {
        const why = short(b);
        if (why !== undefined) throw new InputError(why, { file, field: 'source' });
        return manyShotPrompt(orderOf(b).slice(0, k), b.text, opts);
      };
      const facts = (b: Behavior): ManyShotFacts => ({ k, ...countTokens(build(b), tok) });
      const problem = (b: Behavior): string | undefined => {
        const why = short(b);
        if (why !== undefined || opts.max_prompt_tokens === undefined) return why;
        const f = facts(b);
        return f.prompt_tokens > opts.max_prompt_tokens
          ? `goal ${b.id}: k = ${k} needs ${f.prompt_tokens}${f.tokens_exact ? '' : ' (estimated)'} prompt tokens, over max_prompt_tokens ${opts.max_prompt_tokens}`
          : undefined;
      };
      return {
        name: MANYSHOT_ATTACK,
        variant: `k${k}${opts.format === 'transcript' ? '-transcript' : ''}`,
        options: { ...opts, k, seed, source: file },
        prompt: build,
        facts: (b) => ({ ...facts(b) }),
        check: (behaviors) => checkAll(behaviors, problem, file),
      };
    });
  },
};

/** Content tokens of every message (exact in `tok`), or ⌈characters / 4⌉ without a tokenizer. */
function countTokens(
  p: Prompt,
  tok: DertaTokenizer | undefined,
): { prompt_tokens: number; tokens_exact: boolean } {
  const parts = p.kind === 'chat' ? p.messages.map((m) => m.content) : [p.text];
  if (tok)
    return { prompt_tokens: parts.reduce((s, t) => s + tok.encode(t, false).length, 0), tokens_exact: true };
  return { prompt_tokens: Math.ceil(parts.reduce((s, t) => s + t.length, 0) / 4), tokens_exact: false };
}

/** Every goal too long for the token budget, or without k shots, in one error, before any call. */
function checkAll(
  behaviors: readonly Behavior[],
  problem: (b: Behavior) => string | undefined,
  file: string,
): void {
  const failed = behaviors.map(problem).filter((p): p is string => p !== undefined);
  if (failed.length) {
    throw new InputError(
      `manyshot: ${failed.length} of ${behaviors.length} goals cannot be sent: ${failed.slice(0, 5).join('; ')}${failed.length > 5 ? '; ...' : ''}`,
      { file, field: 'source' },
    );
  }
}

function packPath(spec: string, env: AttackEnv, where: string): string {
  const m = /^pack:([^/]+)\/(.+)$/.exec(spec);
  if (!m) throw new InputError('expected pack:<pack>/<file>', { field: `${where}.source` });
  return resolveDatasetFile({ pack: m[1], file: m[2] }, { dataDir: env.dataDir }).file;
}
