import path from 'node:path';
import type { ResponseRecord } from '../dataset/responses.js';
import type { Behavior, Prompt, Verdict } from '../types.js';
import type { Judge, JudgeInput } from './judge.js';
import { progressBar } from '../util/case-progress.js';

/**
 * Judging recorded responses without calling the target: each record becomes a JudgeInput (its response is
 * also the "answer"), and the judge runs over all of them with bounded concurrency, results in input order.
 */

/** The Behavior a recorded response belongs to. */
export function recordBehavior(rec: ResponseRecord, source: string): Behavior {
  const meta = { ...rec.meta, ...(rec.prompt !== rec.goal ? { prompt: rec.prompt } : {}) };
  return {
    id: rec.id ?? `${path.basename(source)}#${rec.index}`,
    text: rec.goal,
    ...(rec.category !== undefined ? { category: rec.category } : {}),
    source,
    index: rec.index,
    meta,
  };
}

/** What was sent: completion-attack strings were raw text, everything else a single user turn. */
export function recordPrompt(rec: ResponseRecord): Prompt {
  return rec.shape === 'completion'
    ? { kind: 'completion', text: rec.prompt }
    : { kind: 'chat', messages: [{ role: 'user', content: rec.prompt }] };
}

export function recordJudgeInput(rec: ResponseRecord, source: string): JudgeInput {
  return {
    behavior: recordBehavior(rec, source),
    goal: rec.goal,
    prompt: recordPrompt(rec),
    response: rec.response,
    answer: rec.response,
  };
}

/**
 * Runs `judge` on every input, at most `concurrency` at once, and returns the verdicts in input order. A
 * judge that throws yields a failed verdict (judges should not throw; this keeps one bug from losing a run).
 */
export async function judgeAll(
  judge: Judge,
  inputs: readonly JudgeInput[],
  opts: { concurrency?: number; signal?: AbortSignal; onVerdict?: (index: number, v: Verdict) => void } = {},
): Promise<Verdict[]> {
  const out = new Array<Verdict>(inputs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < inputs.length) {
      const i = next++;
      let v: Verdict;
      try {
        v = await judge.judge(inputs[i] as JudgeInput, opts.signal);
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        v = {
          judge: judge.id,
          refusal: null,
          harmful: null,
          error: err instanceof Error ? err.message : String(err),
        };
      }
      out[i] = v;
      opts.onVerdict?.(i, v);
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency ?? 8, inputs.length));
  await Promise.all(Array.from({ length: n }, worker));
  return out;
}

/**
 * `judgeAll` over recorded responses (`source`: the file they came from), with a progress bar when
 * `progress` is set: what `judge` and `import` run.
 */
export async function judgeRecords(
  judge: Judge,
  records: readonly ResponseRecord[],
  source: string,
  opts: {
    concurrency: number;
    progress: boolean;
    onVerdict?: (index: number, v: Verdict) => void;
    /** Stops judging (in-flight calls are dropped): e.g. the run's lease was taken over. */
    signal?: AbortSignal;
  },
): Promise<Verdict[]> {
  const bar = progressBar(opts.progress, records.length);
  let done = 0;
  let errors = 0;
  try {
    return await judgeAll(
      judge,
      records.map((r) => recordJudgeInput(r, source)),
      {
        concurrency: opts.concurrency,
        ...(opts.signal ? { signal: opts.signal } : {}),
        onVerdict: (i, v) => {
          opts.onVerdict?.(i, v);
          done++;
          if (v.error) errors++;
          bar.update({ done, total: records.length, errors, skipped: 0 });
        },
      },
    );
  } finally {
    bar.stop();
  }
}

/** Counts for a summary line / `--json`. */
export function summarizeVerdicts(judge: string, verdicts: readonly Verdict[]) {
  // Inconclusive verdicts (the judge answered, but no readable verdict) are counted apart, never decided.
  const decided = verdicts.filter((v) => !v.error && !v.inconclusive && v.harmful !== null);
  const scores = verdicts.map((v) => v.score).filter((s): s is number => typeof s === 'number');
  const harmful = decided.filter((v) => v.harmful).length;
  return {
    judge,
    n: verdicts.length,
    refusals: verdicts.filter((v) => v.refusal === true).length,
    harmful,
    errors: verdicts.filter((v) => v.error).length,
    inconclusive: verdicts.filter((v) => v.inconclusive === true).length,
    attack_success_rate: decided.length ? harmful / decided.length : null,
    mean_score: scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : null,
  };
}
