import type { Generation, Prompt } from '../types.js';
import type { CallTally, RunStore } from '../store/store.js';
import { TargetError, type EndpointInfo, type GenerateOptions, type Target } from '../target/target.js';
import { endpointKey, requestKey } from './cache-key.js';
import { AdaptiveLimiter } from '../util/limiter.js';
import { batchPrice, costOf, priceFor, type Price, type PriceTable } from './cost.js';

/**
 * The model-call service: every call any part of refusenik makes to a model — the attacked target, an
 * attacker model, a judge or a grader — goes through `ModelCalls.wrap(target, role, source)`. It owns:
 * - the response cache (key from `cache-key.ts`; errors and incomplete answers are never cached),
 * - the request log (role, source, case, latency, tokens, finish reason, cost, error),
 * - token and cost accounting per role, and the `--max-cost` budget,
 * - one adaptive limiter per endpoint (concurrency, rpm/tpm, back-off on 429), shared by every role,
 * - a circuit breaker per endpoint (consecutive failures stop the run; it stays resumable),
 * - the response size cap (longer answers are cut and flagged).
 * Retries and timeouts happen inside each attempt's HTTP client, measured from when a request is sent:
 * a call waits for its limiter slot before any clock starts.
 */

export type CallRole = 'target' | 'attacker' | 'judge';

export interface ModelCallOptions {
  useCache?: boolean;
  prices?: PriceTable;
  /** Stop (TargetError 'budget') once this many USD were spent, counting earlier invocations of the run. */
  maxCostUsd?: number;
  /** Consecutive failed calls of one endpoint that open its circuit (default 10; 0 = never). */
  breakerThreshold?: number;
  /** Answers longer than this many UTF-8 bytes are cut and flagged (default 1 MB). */
  maxResponseBytes?: number;
}

export interface EndpointLimits {
  concurrency: number;
  rpm?: number;
  tpm?: number;
  price?: Price;
}

export interface RoleUsage extends CallTally {
  role: CallRole;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 1 << 20;
export const DEFAULT_BREAKER_THRESHOLD = 10;

interface EndpointState {
  limiter: AdaptiveLimiter;
  failures: number;
  lastError: string | undefined;
}

export class ModelCalls {
  private store: RunStore | undefined;
  private runId: string | undefined;
  private readonly endpoints = new Map<string, EndpointState>();
  private readonly usage = new Map<CallRole, RoleUsage>();
  /** Cost spent by earlier invocations of the same run (read from the store on bind). */
  private spentBefore = 0;
  private readonly caseOf = new WeakMap<AbortSignal, string>();

  private readonly opts: ModelCallOptions;

  constructor(opts: ModelCallOptions = {}) {
    this.opts = { ...opts };
  }

  /** Where calls are cached and logged; without a store calls are still limited, retried and counted. */
  bind(store: RunStore | undefined, runId: string | undefined, useCache?: boolean): this {
    if (useCache !== undefined) this.opts.useCache = useCache;
    this.store = store;
    this.runId = runId;
    this.spentBefore = store && runId ? store.costSpent(runId) : 0;
    return this;
  }

  get useCache(): boolean {
    return this.opts.useCache !== false;
  }

  /** Calls made with this signal belong to this case in the request log (the runner tags each worker's signal with its current case). */
  tagCase(signal: AbortSignal, caseId: string): void {
    this.caseOf.set(signal, caseId);
  }

  /** A Target whose calls go through the service under `role`; `source` says who (e.g. `judge:qi2023`). */
  wrap(inner: Target, role: CallRole, source: string, limits?: Partial<EndpointLimits>): Target {
    const state = this.endpointState(inner, limits);
    const livePrice = limits?.price ?? priceFor(this.opts.prices ?? {}, inner.id, inner.endpoint.model);
    // A batch API bills its own (lower) price for the same tokens.
    const price = inner.delivery === 'batch' ? batchPrice(livePrice) : livePrice;
    inner.onRateLimited?.(() => state.limiter.rateLimited());
    return {
      id: inner.id,
      concurrency: inner.concurrency,
      endpoint: inner.endpoint,
      ...(inner.delivery ? { delivery: inner.delivery } : {}),
      generate: (prompt, opts) => this.call(inner, state, role, source, price, prompt, opts ?? {}),
      close: () => inner.close?.() ?? Promise.resolve(),
    };
  }

  /** Tokens, cost and counts per role for this invocation. */
  usageByRole(): RoleUsage[] {
    return [...this.usage.values()];
  }

  /** USD spent by the run so far, this invocation and earlier ones. */
  spent(): number {
    let s = this.spentBefore;
    for (const u of this.usage.values()) s += u.cost_usd;
    return s;
  }

  private endpointState(inner: Target, limits?: Partial<EndpointLimits>): EndpointState {
    const key = endpointKey(inner.endpoint);
    let s = this.endpoints.get(key);
    if (!s) {
      s = {
        limiter: new AdaptiveLimiter({
          max: limits?.concurrency ?? inner.concurrency,
          rpm: limits?.rpm,
          tpm: limits?.tpm,
        }),
        failures: 0,
        lastError: undefined,
      };
      this.endpoints.set(key, s);
    }
    return s;
  }

  private async call(
    inner: Target,
    state: EndpointState,
    role: CallRole,
    source: string,
    price: Price | undefined,
    prompt: Prompt,
    opts: GenerateOptions,
  ): Promise<Generation> {
    const caseId = opts.signal ? (this.caseOf.get(opts.signal) ?? null) : null;
    const threshold = this.opts.breakerThreshold ?? DEFAULT_BREAKER_THRESHOLD;
    if (threshold > 0 && state.failures >= threshold) {
      throw new TargetError(
        `circuit open for ${inner.id}: ${state.failures} consecutive failed calls (last: ${state.lastError ?? '?'}); ` +
          'the run stopped and can be resumed once the endpoint works',
        'circuit',
      );
    }
    if (this.opts.maxCostUsd !== undefined && this.spent() >= this.opts.maxCostUsd) {
      throw new TargetError(
        `--max-cost ${this.opts.maxCostUsd} USD is spent (${this.spent().toFixed(4)} USD); resume with a higher budget`,
        'budget',
      );
    }
    const cacheable = this.useCache && inner.endpoint.cacheable && this.store !== undefined;
    const key = cacheable ? requestKey(inner.endpoint, prompt, opts) : undefined;
    if (key !== undefined) {
      const hit = this.store?.cacheGet(key);
      if (hit) {
        const gen: Generation = { ...hit, cached: true, attempts: 0, latencyMs: 0 };
        // No replica answered a cached call (the stored answer may name the one that first did).
        delete gen.replica;
        this.account(role, gen, undefined, 0);
        if (opts.recordedByCaller) gen.costUsd = 0;
        else this.log(caseId, role, source, inner.id, gen, undefined, 0);
        return gen;
      }
    }
    // A free slot is taken at once, without waiting a microtask turn for a resolved promise.
    if (!state.limiter.tryAcquire()) await state.limiter.acquire();
    let tokens = 0;
    try {
      const gen = this.capped(await inner.generate(prompt, opts));
      tokens = (gen.usage?.promptTokens ?? 0) + (gen.usage?.completionTokens ?? 0);
      state.failures = 0;
      state.limiter.succeeded();
      const cost = costOf(price, gen.usage);
      if (key !== undefined && !gen.truncated) this.store?.cachePut(key, inner.id, gen);
      this.account(role, gen, undefined, cost);
      if (opts.recordedByCaller) {
        gen.costUsd = cost;
        return gen;
      }
      this.log(caseId, role, source, inner.id, gen, undefined, cost);
      return gen;
    } catch (err) {
      // A call left in a provider batch for a later run (`--no-wait`) is neither a failure nor an answer yet.
      const aborted = err instanceof TargetError && (err.kind === 'aborted' || err.kind === 'deferred');
      if (!aborted) {
        // A request the server refused as malformed (4xx but 408/429) says nothing about the endpoint.
        const endpointFault = !(
          err instanceof TargetError &&
          err.kind === 'http' &&
          isClientError(err.status)
        );
        if (endpointFault) {
          state.failures++;
          state.lastError = err instanceof Error ? err.message : String(err);
        }
        // (429s were already reported attempt by attempt through onRateLimited.)
        this.account(role, undefined, err, 0);
        // Failures are always logged here: a retried case's row replaces its error row.
        this.log(caseId, role, source, inner.id, undefined, err, 0);
      }
      throw err;
    } finally {
      state.limiter.release(tokens);
    }
  }

  /** Cuts an answer above the size cap at a character boundary and flags it. */
  private capped(gen: Generation): Generation {
    const cap = this.opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    if (gen.text.length * 3 <= cap || Buffer.byteLength(gen.text, 'utf8') <= cap) return gen;
    const cut = Buffer.from(gen.text, 'utf8')
      .subarray(0, cap)
      .toString('utf8')
      .replace(/\uFFFD$/, '');
    return { ...gen, text: cut, truncated: true, finishReason: 'size_cap' };
  }

  private account(role: CallRole, gen: Generation | undefined, err: unknown, cost: number): void {
    let u = this.usage.get(role);
    if (!u) {
      u = { role, requests: 0, cached: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0 };
      this.usage.set(role, u);
    }
    u.requests++;
    if (err !== undefined) u.errors++;
    if (gen?.cached) u.cached++;
    else if (gen) {
      u.prompt_tokens += gen.usage?.promptTokens ?? 0;
      u.completion_tokens += gen.usage?.completionTokens ?? 0;
      u.cost_usd += cost;
    }
  }

  private log(
    caseId: string | null,
    role: CallRole,
    source: string,
    target: string,
    gen: Generation | undefined,
    err: unknown,
    cost: number,
  ): void {
    if (!this.store || !this.runId) return;
    this.store.logRequest({
      run_id: this.runId,
      case_id: caseId,
      role,
      source,
      target,
      cached: gen?.cached ? 1 : 0,
      status: err === undefined ? 'ok' : 'error',
      latency_ms: gen?.cached ? 0 : (gen?.latencyMs ?? null),
      attempts: gen?.cached ? 0 : (gen?.attempts ?? (err instanceof TargetError ? err.attempts : null)),
      finish_reason: gen?.finishReason ?? null,
      prompt_tokens: gen && !gen.cached ? (gen.usage?.promptTokens ?? null) : null,
      completion_tokens: gen && !gen.cached ? (gen.usage?.completionTokens ?? null) : null,
      cost_usd: cost,
      error: err === undefined ? null : err instanceof Error ? err.message : String(err),
      replica: gen?.replica ?? null,
    });
  }
}

function isClientError(status: number | undefined): boolean {
  return status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
}

export type { EndpointInfo };
