import type { AttackContext, AttackResult } from '../attack/attack.js';
import { RuntimeFailure } from '../errors.js';
import type { JudgeInput } from '../judge/judge.js';
import { rowTimestamp, type CaseRow, type RunStore } from '../store/store.js';
import { TargetError, type Target } from '../target/target.js';
import type { Behavior, Verdict } from '../types.js';
import { hashString } from '../util/random.js';
import { casesFor, type PlannedCase, type RunPlan } from './plan.js';
import { boundHeapForLongRuns } from './heap.js';

/**
 * Runs a plan's cases against the store: each target gets `concurrency` workers pulling its cases lazily;
 * a case already stored is skipped (only missing verdicts are added), an errored one is retried. Ctrl-C
 * (the signal) stops new work and drops in-flight requests; everything finished is already stored.
 */

export interface RunnerOptions {
  store: RunStore;
  runId: string;
  useCache: boolean;
  signal: AbortSignal;
  onProgress?: (p: Progress) => void;
}

export interface Progress {
  done: number;
  total: number;
  errors: number;
  /** Cases finished in an earlier invocation (skipped now). */
  skipped: number;
}

export interface RunOutcome extends Progress {
  interrupted: boolean;
  /** Target requests answered in this invocation (not cached). */
  sent: number;
  cached: number;
  /** Target requests that failed in this invocation (their cases stored as errors). */
  failed: number;
  /** HTTP attempts behind this invocation's target requests, answered and failed (retries included). */
  attempts: number;
  /** Set when the run stopped itself: an endpoint's circuit opened, or `--max-cost` was spent. */
  halted?: { kind: 'circuit' | 'budget'; message: string };
  /** Cases left unfinished because their requests wait in provider batches (`run --no-wait`; src/batch/). */
  deferred: number;
}

export async function executePlan(plan: RunPlan, opts: RunnerOptions): Promise<RunOutcome> {
  const { store, runId } = opts;
  boundHeapForLongRuns(plan.casesTotal);
  const stop = new AbortController();
  // Each worker gets its own controller (its cases run one after another), aborted from this set on stop:
  // a few hundred requests listening on one shared signal would make every addEventListener walk all of
  // them (EventTarget checks duplicates), and one controller per case is garbage per case.
  const workerAborts = new Set<AbortController>();
  stop.signal.addEventListener('abort', () => {
    for (const c of workerAborts) c.abort();
  });
  const onAbort = (): void => stop.abort();
  opts.signal.addEventListener('abort', onAbort, { once: true });
  const progress: Progress = { done: 0, total: plan.casesTotal, errors: 0, skipped: 0 };
  let sent = 0;
  let cached = 0;
  let failed = 0;
  let attempts = 0;
  let deferred = 0;
  let fatal: Error | undefined;

  // Every call of the plan's targets, attackers and judges is cached and logged in this run.
  plan.calls.bind(store, runId, opts.useCache);
  // Batch-delivery targets find the batches this run already submitted (src/batch/).
  plan.batches?.bind(store, runId);
  /** Why the run stopped early: an endpoint's circuit opened, or the cost budget is spent. */
  let halted: TargetError | undefined;
  const halts = (err: unknown): boolean => {
    if (!(err instanceof TargetError) || (err.kind !== 'circuit' && err.kind !== 'budget')) return false;
    halted ??= err;
    stop.abort();
    return true;
  };
  const judgeById = new Map(plan.judges.map((j) => [j.id, j]));
  // What earlier invocations finished, read once: a fresh case then costs no query at all.
  const known = store.caseStatuses(runId);

  const contextFor = (
    c: PlannedCase,
    signal: AbortSignal,
    trace: Record<string, unknown>[],
  ): AttackContext => ({
    target: c.target,
    model: (name, role) => plan.model(name, `attack ${c.attack.name}`, role),
    judge: (input, name) => judgeFor(input, name, signal),
    signal,
    seed: hashString(`${plan.seed}:${c.id}`),
    trace: (step) => trace.push(step),
    generateOptions: { sample: c.sample, signal },
  });

  const runCaseWith = async (
    c: PlannedCase,
    successes: { n: number },
    signal: AbortSignal,
  ): Promise<void> => {
    const status = known.get(c.id);
    const stored = status === 'ok' ? store.getCase(runId, c.id) : undefined;
    let row: Pick<CaseRow, 'status' | 'response' | 'answer'> | undefined = stored;
    const fresh = stored === undefined;
    let prompt = stored?.prompt ?? undefined;
    if (fresh) {
      // Only a search attack (execute) gets a context; a single-turn one sends its prompt.
      const trace: Record<string, unknown>[] = [];
      let written: CaseRow;
      try {
        const result = c.attack.execute
          ? await c.attack.execute(c.behavior, contextFor(c, signal, trace))
          : await sendPrompt(c, signal);
        if (result.generation.cached) cached++;
        else {
          sent++;
          attempts += result.generation.attempts;
        }
        successes.n++;
        written = okRow(runId, c, result, trace);
        prompt = result.prompt;
      } catch (err) {
        if (halts(err) || stop.signal.aborted) return;
        // Its request waits in a provider batch: a later run collects it (nothing is stored now).
        if (isDeferred(err)) return void deferred++;
        if (!(err instanceof TargetError)) throw err;
        failed++;
        attempts += err.attempts;
        if (successes.n === 0 && isFatal(err)) {
          fatal ??= new RuntimeFailure(`target ${c.target.id}: ${err.message}`);
          stop.abort();
          return;
        }
        written = errorRow(runId, c, err, trace);
      }
      store.putCase(written);
      row = written;
    } else progress.skipped++;

    if (row && row.status === 'ok') {
      const have = fresh ? undefined : store.judgedBy(runId, c.id);
      const input = judgeInput(c.behavior, row, prompt, c.attack.multiTurn === true);
      for (const judge of plan.judges) {
        if (have?.has(judge.id)) continue;
        let verdict: Verdict;
        try {
          verdict = await judgeSafely(judge.id, input, signal);
        } catch (err) {
          if (halts(err)) return;
          if (isDeferred(err)) return void deferred++;
          throw err;
        }
        if (stop.signal.aborted) return;
        store.putVerdict(runId, c.id, verdict);
      }
    }
    progress.done++;
    if (row?.status === 'error') progress.errors++;
    opts.onProgress?.(progress);
  };

  const judgeSafely = async (id: string, input: JudgeInput, signal: AbortSignal): Promise<Verdict> => {
    const judge = judgeById.get(id);
    if (!judge) throw new RuntimeFailure(`no judge '${id}' in this run`);
    try {
      return await judge.judge(input, signal);
    } catch (err) {
      if (halts(err) || isDeferred(err)) throw err;
      return {
        judge: id,
        refusal: null,
        harmful: null,
        error: err instanceof Error ? err.message : String(err),
      };
    }
  };
  const judgeFor = (input: JudgeInput, name: string | undefined, signal: AbortSignal): Promise<Verdict> => {
    const id = name ?? plan.judges[0]?.id;
    if (!id) throw new RuntimeFailure('this attack needs a judge; add one to the config');
    return judgeSafely(id, input, signal);
  };

  const workersFor = async (target: Target): Promise<void> => {
    const cases = casesFor(plan, target);
    const successes = { n: 0 };
    const worker = async (): Promise<void> => {
      const abort = new AbortController();
      workerAborts.add(abort);
      while (!stop.signal.aborted) {
        const next = cases.next();
        if (next.done) return;
        // The worker's signal names its current case in the request log.
        plan.calls.tagCase(abort.signal, next.value.id);
        await runCaseWith(next.value, successes, abort.signal);
      }
    };
    // Never more workers than cases (a batch-delivery target takes thousands at once).
    const workers = Math.min(target.concurrency, plan.behaviors.length * plan.attacks.length * plan.samples);
    await Promise.all(Array.from({ length: Math.max(1, workers) }, worker));
  };

  try {
    await Promise.all(plan.targets.map(workersFor));
    // Provider batches whose answers were stored are marked collected (never polled again).
    await plan.batches?.drain();
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
    store.flush();
  }
  if (fatal) throw fatal;
  return {
    ...progress,
    interrupted: opts.signal.aborted,
    sent,
    cached,
    failed,
    attempts,
    deferred,
    ...(halted ? { halted: { kind: halted.kind as 'circuit' | 'budget', message: halted.message } } : {}),
  };
}

function isDeferred(err: unknown): boolean {
  return err instanceof TargetError && err.kind === 'deferred';
}

/** A single-turn attack's case: its prompt, sent once (search attacks drive the target themselves). */
async function sendPrompt(c: PlannedCase, signal: AbortSignal): Promise<AttackResult> {
  const { attack } = c;
  if (!attack.prompt) throw new RuntimeFailure(`attack ${attack.name} has neither prompt() nor execute()`);
  const prompt = attack.prompt(c.behavior);
  // The answered call is logged by the case row (see RunStore.requestSummary).
  const generation = await c.target.generate(prompt, { sample: c.sample, signal, recordedByCaller: true });
  return { prompt, generation };
}

/**
 * Errors that mean the target cannot work at all (unreachable, bad key, unknown model, wrong request shape):
 * when the very first requests fail this way, stop instead of recording every case as an error.
 */
function isFatal(err: TargetError): boolean {
  if (err.kind === 'network' || err.kind === 'config') return true;
  return err.kind === 'http' && err.status !== undefined && [400, 401, 403, 404, 422].includes(err.status);
}

/** What the judges see: the case's answer and the prompt it was given (just built, or the stored one). */
function judgeInput(
  behavior: Behavior,
  row: Pick<CaseRow, 'response' | 'answer'>,
  prompt: JudgeInput['prompt'] = { kind: 'chat', messages: [] },
  multiTurn = false,
): JudgeInput {
  const response = row.response ?? '';
  return {
    behavior,
    goal: behavior.text,
    prompt,
    response,
    answer: row.answer ?? response,
    // A multi-turn case's prompt is its conversation with the target so far; with the answer, the whole of it.
    ...(multiTurn && prompt.kind === 'chat'
      ? { conversation: [...prompt.messages, { role: 'assistant' as const, content: response }] }
      : {}),
  };
}

/**
 * A behavior's cases are consecutive (attacks x samples), so its JSON is kept for the last behavior only:
 * a cache of every behavior would hold 100,000 strings through a long run for nothing.
 */
let lastBehavior: { behavior: Behavior; json: string } | undefined;

function behaviorJsonOf(behavior: Behavior): string {
  if (lastBehavior?.behavior !== behavior) lastBehavior = { behavior, json: JSON.stringify(behavior) };
  return lastBehavior.json;
}

/** A case row: what the case is, and (`done`) what came of it. One literal, one allocation per case. */
function caseRow(runId: string, c: PlannedCase, done: CaseOutcome): CaseRow {
  const bj = behaviorJsonOf(c.behavior);
  return {
    run_id: runId,
    case_id: c.id,
    behavior_id: c.behavior.id,
    goal: c.behavior.text,
    category: c.behavior.category ?? null,
    behavior_json: bj,
    attack: c.attack.name,
    variant: c.attack.variant,
    target: c.target.id,
    sample: c.sample,
    status: done.status,
    prompt_json: done.prompt_json,
    response: done.response ?? null,
    answer: done.answer ?? null,
    finish_reason: done.finish_reason ?? null,
    latency_ms: done.latency_ms ?? null,
    attempts: done.attempts ?? null,
    cached: done.cached ?? 0,
    prompt_tokens: done.prompt_tokens ?? null,
    completion_tokens: done.completion_tokens ?? null,
    trace_json: done.trace_json ?? null,
    error: done.error ?? null,
    error_kind: done.error_kind ?? null,
    created_at: rowTimestamp(),
    request_cost_usd: done.request_cost_usd ?? null,
    replica: done.replica ?? null,
  };
}

type CaseOutcome = Pick<CaseRow, 'status' | 'prompt_json'> & Partial<Omit<CaseRow, 'status' | 'prompt_json'>>;

function okRow(runId: string, c: PlannedCase, r: AttackResult, trace: Record<string, unknown>[]): CaseRow {
  const g = r.generation;
  return caseRow(runId, c, {
    status: 'ok',
    prompt_json: JSON.stringify(r.prompt),
    response: g.text,
    answer: c.attack.extract ? c.attack.extract(g.text, c.behavior, r.prompt) : g.text,
    finish_reason: g.finishReason ?? null,
    latency_ms: g.latencyMs,
    attempts: g.attempts,
    cached: g.cached ? 1 : 0,
    prompt_tokens: g.usage?.promptTokens ?? null,
    completion_tokens: g.usage?.completionTokens ?? null,
    trace_json: trace.length ? JSON.stringify(trace) : null,
    // A single-turn attack's one answered call is logged by this row (see RunStore.requestSummary).
    request_cost_usd: c.attack.execute ? null : (g.costUsd ?? 0),
    // Which replica of a pool answered (the request log of single-turn cases is this row).
    replica: g.replica ?? null,
  });
}

function errorRow(
  runId: string,
  c: PlannedCase,
  err: TargetError,
  trace: Record<string, unknown>[],
): CaseRow {
  let prompt = '';
  try {
    prompt = c.attack.prompt ? JSON.stringify(c.attack.prompt(c.behavior)) : '';
  } catch {
    /* the prompt itself failed; the error says why */
  }
  return caseRow(runId, c, {
    status: 'error',
    prompt_json: prompt || 'null',
    attempts: err.attempts,
    trace_json: trace.length ? JSON.stringify(trace) : null,
    error: err.message,
    error_kind: err.kind,
  });
}
