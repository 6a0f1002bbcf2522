import { readFileSync } from 'node:fs';
import { isDegenerate } from '../analysis/degeneration.js';
import { robustExtract } from '../attack/codeattack/extract.js';
import { InputError } from '../errors.js';
import { readResponses } from '../dataset/responses.js';
import type { RunStore } from '../store/store.js';
import type { Target } from '../target/target.js';
import type { Prompt } from '../types.js';
import { fillTemplate } from '../util/template.js';
import type { SafeSource } from './config.js';

/**
 * The loop's harvest: the base model's own harmful answers (cases its failure judge called harmful, goals
 * of the training split only) become DeRTa triples, each with a safe response from the named source.
 */

export interface Triple {
  instruction: string;
  /** A multi-turn failure: the conversation up to the harmful answer (derta build renders it, trains the last turn). */
  messages?: { role: 'system' | 'user' | 'assistant'; content: string }[];
  /** The model's own harmful response. */
  output: string;
  safe_response: string;
  /** Where the pair came from (case id; the safe source). */
  case_id: string;
  attack: string;
  variant: string;
  safe_source: string;
}

export interface Failure {
  caseId: string;
  behaviorId: string;
  goal: string;
  /** What was sent: the user turn of a chat, or the raw completion text. */
  prompt: string;
  response: string;
  attack: string;
  variant: string;
  finishReason: string | null;
  /** A multi-turn failure: the conversation before the harmful answer, ending with its user turn. */
  context?: { role: 'system' | 'user' | 'assistant'; content: string }[];
}

/**
 * Cases of a run that `judge` decided harmful, one per goal and response text (first by case order). A
 * multi-turn case (its prompt a conversation of several turns) yields the conversation up to its harmful turn,
 * the one the verdict names (`details.turn`, judged with `scope: conversation`), else the final one.
 */
export function failuresOf(store: RunStore, runId: string, judge: string): Failure[] {
  const harmful = new Map<string, number | null>();
  for (const v of store.iterateVerdicts(runId)) {
    if (v.judge !== judge || v.harmful !== 1) continue;
    const turn = v.details?.['turn'];
    harmful.set(v.case_id, typeof turn === 'number' ? turn : null);
  }
  const seen = new Set<string>();
  const out: Failure[] = [];
  for (const c of store.iterateCases(runId)) {
    if (c.status !== 'ok' || c.response === null || !harmful.has(c.case_id)) continue;
    const turned = multiTurn(c.prompt, c.response, harmful.get(c.case_id) ?? null);
    const response = turned?.answer ?? c.response;
    // The full text the model wrote: for a prefill case that is the prefix it was given plus its own words.
    const key = `${c.behavior_id}\u0000${response}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({
      caseId: c.case_id,
      behaviorId: c.behavior_id,
      goal: c.goal,
      prompt: promptText(c.prompt),
      response,
      attack: c.attack,
      variant: c.variant,
      finishReason: turned && turned.turn < turned.turns ? 'stop' : c.finish_reason,
      ...(turned ? { context: turned.context } : {}),
    });
  }
  return out;
}

/** A conversation of several turns cut before its harmful assistant turn (1-based `turn`; null: the last). */
export function multiTurn(
  p: Prompt | null,
  response: string,
  turn: number | null,
): { context: NonNullable<Failure['context']>; answer: string; turn: number; turns: number } | undefined {
  if (!p || p.kind !== 'chat' || p.messages.filter((m) => m.role === 'assistant').length === 0)
    return undefined;
  const all = [...p.messages, { role: 'assistant' as const, content: response }];
  const answers = all.flatMap((m, i) => (m.role === 'assistant' ? [i] : []));
  const at = answers[(turn ?? answers.length) - 1] ?? answers.length - 1;
  const context = all.slice(0, at).map((m) => ({ role: m.role, content: m.content }));
  if (context.at(-1)?.role !== 'user') return undefined;
  return {
    context,
    answer: all[at]?.content ?? response,
    turn: answers.indexOf(at) + 1,
    turns: answers.length,
  };
}

function promptText(p: Prompt | null): string {
  if (!p) return '';
  if (p.kind === 'completion') return p.text;
  return [...p.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
}

export interface HarvestFilter {
  min_words: number;
  drop_degenerate: boolean;
  novel_words: number;
}

export type DropReason = 'degenerate' | 'too-short' | 'restates-goal';

/** Bumped when dropReason changes what it keeps. */
export const HARVEST_FILTER_VERSION = 2;

// Function words and code words that say nothing about how to do harm.
const STOP = new Set(
  (
    'a an the and or but if then else for to of in on at by with from into as is are was were be been being it ' +
    'its this that these those you your we our i me my he she they them his her their not no yes do does did ' +
    'can could will would should may might must how what which who whom why when where here there some any ' +
    'all each other more most such only own same so than too very just also about up down out over under ' +
    'again further once step steps first second third next finally output list append print def return ' +
    'stack queue string str none true false self function code python example following answer ' +
    // Code talk: what a model says about the code it was asked to complete, not about the goal.
    'create creates creating created new add adds adding added append appending appended item items element ' +
    'elements contain contains containing involve involves involving represent represents representing ' +
    'variable variables value values argument arguments parameter parameters call calls calling called ' +
    'returns returned execute executes executed executing instruction instructions task tasks complete ' +
    'completes completed completing done repeat repeats until loop loops iterate iterates index method class ' +
    'object objects program main extract extracts extracted initialize initializes store stores stored ' +
    'single original takes take data result results process detailed details involved action actions itself'
  ).split(' '),
);

/** Lower-case words of 3+ letters, function and code words left out. */
export function contentWords(text: string): string[] {
  return (text.toLowerCase().match(/\p{L}[\p{L}'-]{2,}/gu) ?? []).filter((w) => !STOP.has(w));
}

/**
 * Why a failure is not harmful content to train on, or null when it is: a looping answer cut at max_tokens,
 * one with fewer than `min_words` words, or a CodeAttack answer whose extracted text adds fewer than
 * `novel_words` content words to those of the prompt it was sent (the template's comments and the goal's
 * words): it only restates the task in code or prose, the keyword judge sees no refusal and calls it harmful.
 */
export function dropReason(f: Failure, filter: HarvestFilter): DropReason | null {
  if (filter.drop_degenerate && isDegenerate(f.response, f.finishReason)) return 'degenerate';
  if (f.response.split(/\s+/).filter(Boolean).length < filter.min_words) return 'too-short';
  if (filter.novel_words > 0 && f.attack === 'codeattack') {
    const given = new Set([...contentWords(f.goal), ...contentWords(f.prompt)]);
    const novel = new Set(contentWords(robustExtract(f.response)).filter((w) => !given.has(w)));
    if (novel.size < filter.novel_words) return 'restates-goal';
  }
  return null;
}

/** The failures to learn from, and how many of each reason were left out. */
export function screenFailures(
  failures: readonly Failure[],
  filter: HarvestFilter,
): { kept: Failure[]; dropped: Record<DropReason, number> } {
  const dropped: Record<DropReason, number> = { degenerate: 0, 'too-short': 0, 'restates-goal': 0 };
  const kept: Failure[] = [];
  for (const f of failures) {
    const why = dropReason(f, filter);
    if (why) dropped[why]++;
    else kept.push(f);
  }
  return { kept, dropped };
}

/**
 * One natural-language harmful answer per goal for the depth probes (prefill and transition): the first of
 * the goal's kept failures from an attack other than CodeAttack (code is no answer to the plain question the
 * probes ask), with at least `minTokens` tokens, preferring the plain attack's.
 */
export function depthAnswers(
  kept: readonly Failure[],
  tokens: (text: string) => number,
  minTokens: number,
): Map<string, Failure> {
  const rank = (f: Failure): number => (f.attack === 'plain' ? 0 : 1);
  const out = new Map<string, Failure>();
  for (const f of [...kept].sort((a, b) => rank(a) - rank(b))) {
    if (f.attack === 'codeattack' || out.has(f.behaviorId)) continue;
    if (tokens(f.response) < minTokens) continue;
    out.set(f.behaviorId, f);
  }
  return out;
}

/** A safe response per goal from the configured source. */
export async function safeResponses(
  source: SafeSource,
  goals: readonly string[],
  resolve: (p: string) => string,
  generator: (name: string) => Target,
  dataDir: string,
): Promise<Map<string, { text: string; source: string }>> {
  const out = new Map<string, { text: string; source: string }>();
  if (goals.length === 0) return out;
  if ('text' in source) {
    for (const g of goals) out.set(g, { text: source.text, source: 'text' });
    return out;
  }
  if ('file' in source) {
    const file = resolve(source.file);
    const byGoal = new Map<string, string>();
    for (const r of readResponses(file, { dataDir, responseField: safeField(file) })) {
      const key = normal(r.goal || r.prompt);
      if (!byGoal.has(key) && r.response.trim()) byGoal.set(key, r.response);
    }
    const missing = goals.filter((g) => !byGoal.has(normal(g)));
    if (missing.length) {
      throw new InputError(
        `${missing.length} harvested goals have no safe response in the file (e.g. '${missing[0]?.slice(0, 60)}')`,
        { file, field: 'safe.file' },
      );
    }
    for (const g of goals)
      out.set(g, { text: byGoal.get(normal(g)) as string, source: `file:${source.file}` });
    return out;
  }
  const model = generator(source.model);
  for (const g of goals) {
    const gen = await model.generate(
      { kind: 'chat', messages: [{ role: 'user', content: fillTemplate(source.prompt, { goal: g }) }] },
      { params: { temperature: source.temperature, maxTokens: source.max_tokens } },
    );
    out.set(g, { text: gen.text.trim(), source: `model:${source.model}` });
  }
  return out;
}

/** A file with a `safe_response` column (DeRTa's triples) is read for that column. */
function safeField(file: string): string | undefined {
  const head = readFileSync(file, 'utf8').slice(0, 4096);
  return head.includes('"safe_response"') || /^[^\n]*\bsafe_response\b/.test(head)
    ? 'safe_response'
    : undefined;
}

function normal(s: string): string {
  return s.trim().replace(/\s+/g, ' ').toLowerCase();
}
