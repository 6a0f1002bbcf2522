import { InputError } from '../errors.js';
import type { TargetSpec } from '../config/schema.js';
import type { Generation, Prompt } from '../types.js';
import { AdaptiveLimiter } from '../util/limiter.js';
import { RETRYABLE_STATUS, retryDelayMs } from '../util/retry.js';
import { redactUrl } from '../util/secrets.js';
import {
  DEFAULT_CONCURRENCY,
  type Endpoint,
  type HttpProviderOptions,
  type ReplicaSpec,
} from './endpoint.js';
import { TargetError, type EndpointInfo, type GenerateOptions, type Target } from './target.js';

/**
 * Replica pools (issue 24 item 2): one target served by several servers running the same model (`base_url:
 * [..]` or `endpoints:`). Each request goes to the replica with the fewest outstanding requests (relative to
 * its concurrency); each replica has its own limiter (concurrency that halves on a 429, rpm/tpm) and its own
 * circuit breaker: a replica that refuses connections, or fails `replica_failures` attempts in a row (5xx,
 * timeouts, resets, malformed answers), sits out `replica_cooldown_s` (doubling while it keeps failing) and
 * then gets one probe request (half-open) that closes its breaker again on success. A failed attempt is
 * retried at once on another replica when one is up, else after the target's backoff; the retry budget
 * bounds the whole request. The pool's cache identity is its set of replicas, never the one that answered;
 * the answer names its replica (URL with credentials redacted) for the request log.
 */

/** A replica that keeps failing sits out at most this long between probes. */
const MAX_COOLDOWN_MS = 60_000;

/** A pool's replicas as written (URL strings become entries without limits of their own). */
function listed(o: HttpProviderOptions, path: string): ReplicaSpec[] | undefined {
  if (o.endpoints !== undefined && o.base_url !== undefined) {
    throw new InputError('give a replica pool either as a base_url list or as endpoints, not both', {
      field: `${path}.endpoints`,
    });
  }
  const list = o.endpoints ?? (Array.isArray(o.base_url) ? o.base_url : undefined);
  return list?.map((e) => (typeof e === 'string' ? { base_url: e } : e));
}

/** One replica of a pool with its limits resolved. */
export interface ResolvedReplica {
  base_url: string;
  concurrency: number;
  rpm?: number;
  tpm?: number;
}

/**
 * The replicas of a pool, each with its limits resolved (its own, else the target's); undefined for a target
 * with one endpoint. A one-entry list is one endpoint (see `singleEndpoint`).
 */
export function replicasOf(
  spec: TargetSpec,
  o: HttpProviderOptions,
  path = 'target',
): ResolvedReplica[] | undefined {
  const list = listed(o, path);
  if (!list || list.length < 2) return undefined;
  const seen = new Set<string>();
  return list.map((e, i) => {
    const url = e.base_url.replace(/\/+$/, '');
    if (seen.has(url))
      throw new InputError(`replica ${redactUrl(url)} is listed twice`, {
        field: `${path}.${o.endpoints ? 'endpoints' : 'base_url'}[${i}]`,
      });
    seen.add(url);
    const rpm = e.rpm ?? spec.rpm;
    const tpm = e.tpm ?? spec.tpm;
    return {
      base_url: url,
      concurrency: e.concurrency ?? spec.concurrency ?? DEFAULT_CONCURRENCY,
      ...(rpm !== undefined ? { rpm } : {}),
      ...(tpm !== undefined ? { tpm } : {}),
    };
  });
}

/** One server's target: the shared fields and options of one endpoint (a replica, or the only server). */
export interface OneEndpoint {
  spec: TargetSpec;
  options: HttpProviderOptions;
}

/** A target whose replica list has one entry, as the plain one-endpoint target it is; others unchanged. */
export function singleEndpoint(spec: TargetSpec, o: HttpProviderOptions, path = 'target'): OneEndpoint {
  const list = listed(o, path);
  if (!list || list.length !== 1) return { spec, options: o };
  const [only] = list as [ReplicaSpec];
  return {
    spec: {
      ...spec,
      ...(only.concurrency !== undefined ? { concurrency: only.concurrency } : {}),
      ...(only.rpm !== undefined ? { rpm: only.rpm } : {}),
      ...(only.tpm !== undefined ? { tpm: only.tpm } : {}),
    },
    options: { ...o, endpoints: undefined, base_url: only.base_url },
  };
}

/**
 * The model-call service's limits for an HTTP target: a pool's is the sum of its replicas' concurrency (each
 * replica limits itself, rpm and tpm included); a single endpoint's are its own.
 */
export function httpLimits(
  spec: TargetSpec,
  o: HttpProviderOptions,
): { concurrency?: number; rpm?: number; tpm?: number } {
  const replicas = replicasOf(spec, o);
  if (replicas) return { concurrency: replicas.reduce((s, r) => s + r.concurrency, 0) };
  return sharedLimits(singleEndpoint(spec, o).spec);
}

/** The limits a target's shared fields set (any provider). */
export function sharedLimits(spec: TargetSpec): { concurrency?: number; rpm?: number; tpm?: number } {
  return {
    ...(spec.concurrency !== undefined ? { concurrency: spec.concurrency } : {}),
    ...(spec.rpm !== undefined ? { rpm: spec.rpm } : {}),
    ...(spec.tpm !== undefined ? { tpm: spec.tpm } : {}),
  };
}

/**
 * Builds the pool for a target: `make` turns one replica into its provider's target (the replica's resolved
 * endpoint, whose own HTTP retries the pool turns off: it retries across replicas itself).
 */
export function createPool(
  spec: TargetSpec,
  o: HttpProviderOptions,
  path: string,
  make: (replica: OneEndpoint, tune: (ep: Endpoint) => Endpoint) => Target,
): Target | undefined {
  const replicas = replicasOf(spec, o, path);
  if (!replicas) return undefined;
  let policy: RetryPolicy | undefined;
  const built = replicas.map((r) => {
    const replica = {
      spec: { ...spec, concurrency: r.concurrency },
      options: { ...o, endpoints: undefined, base_url: r.base_url },
    };
    const target = make(replica, (ep) => {
      policy ??= {
        retries: ep.retry.retries,
        baseDelayMs: ep.retry.baseDelayMs,
        maxDelayMs: ep.retry.maxDelayMs,
        budgetMs: ep.retryBudgetMs,
      };
      return { ...ep, retry: { ...ep.retry, retries: 0 } };
    });
    return { target, url: redactUrl(r.base_url), concurrency: r.concurrency, rpm: r.rpm, tpm: r.tpm };
  });
  return new ReplicaPool(spec.label ?? spec.id, built, {
    failures: o.replica_failures,
    cooldownMs: o.replica_cooldown_s * 1000,
    retry: policy ?? { retries: 5, baseDelayMs: 1000, maxDelayMs: 60_000, budgetMs: 120_000 },
  });
}

interface RetryPolicy {
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  budgetMs: number;
}

export interface PoolOptions {
  /** Consecutive failed attempts that open a replica's breaker (a refused connection opens it at once). */
  failures: number;
  /** The first sit-out of an opened replica; doubles while its probes fail. */
  cooldownMs: number;
  retry: RetryPolicy;
}

export interface ReplicaInput {
  target: Target;
  /** For logs and the request log: no credentials. */
  url: string;
  concurrency: number;
  rpm?: number;
  tpm?: number;
}

/** One replica's state, as `ReplicaPool.state()` shows it (tests, diagnostics). */
export interface ReplicaState {
  url: string;
  outstanding: number;
  answered: number;
  failed: number;
  /** closed: in rotation; open: sitting out; half-open: its probe is in flight or due. */
  breaker: 'closed' | 'open' | 'half-open';
}

interface Replica {
  readonly url: string;
  readonly target: Target;
  readonly limiter: AdaptiveLimiter;
  readonly capacity: number;
  /** Requests routed here and not finished (waiting for its limiter or in flight). */
  outstanding: number;
  answered: number;
  failed: number;
  /** Consecutive failed attempts. */
  failures: number;
  /** 0 while closed; else when the next probe may go. */
  openUntil: number;
  cooldownMs: number;
  probing: boolean;
  /** A 429's Retry-After: skipped until then while another replica is up (not a failure). */
  restUntil: number;
}

export class ReplicaPool implements Target {
  readonly id: string;
  readonly concurrency: number;
  readonly endpoint: EndpointInfo;
  private readonly replicas: Replica[];
  /** Where the next tie-break starts, so equally loaded replicas take turns. */
  private cursor = 0;

  constructor(
    id: string,
    replicas: ReplicaInput[],
    private readonly opts: PoolOptions,
  ) {
    const first = replicas[0];
    if (!first) throw new Error('a replica pool needs replicas');
    this.id = id;
    this.replicas = replicas.map((r) => {
      const replica: Replica = {
        url: r.url,
        target: r.target,
        limiter: new AdaptiveLimiter({ max: r.concurrency, rpm: r.rpm, tpm: r.tpm }),
        capacity: r.concurrency,
        outstanding: 0,
        answered: 0,
        failed: 0,
        failures: 0,
        openUntil: 0,
        cooldownMs: opts.cooldownMs,
        probing: false,
        restUntil: 0,
      };
      // A 429 halves this replica's concurrency only (the pool-wide limit is the sum and stays).
      r.target.onRateLimited?.(() => replica.limiter.rateLimited());
      return replica;
    });
    this.concurrency = replicas.reduce((s, r) => s + r.concurrency, 0);
    // The cache key's identity: every replica (sorted, no credentials), never the one that answered.
    this.endpoint = {
      ...first.target.endpoint,
      baseUrl: [...new Set(replicas.map((r) => r.url))].sort().join(' '),
    };
  }

  /** Every replica's load and breaker, in config order. */
  state(): ReplicaState[] {
    const now = Date.now();
    return this.replicas.map((r) => ({
      url: r.url,
      outstanding: r.outstanding,
      answered: r.answered,
      failed: r.failed,
      breaker: r.openUntil === 0 ? 'closed' : r.probing || now >= r.openUntil ? 'half-open' : 'open',
    }));
  }

  async generate(prompt: Prompt, opts: GenerateOptions = {}): Promise<Generation> {
    const { retry } = this.opts;
    const first = performance.now();
    // Every replica may be tried once besides the target's retries (failing over is not retrying).
    const maxAttempts = retry.retries + this.replicas.length;
    let attempts = 0;
    let backoffs = 0;
    let last: TargetError | undefined;
    let failedOn: Replica | undefined;
    for (;;) {
      if (opts.signal?.aborted) throw new TargetError('aborted', 'aborted', undefined, attempts);
      let r = this.pick(failedOn);
      if (r === undefined || (last && r === failedOn)) {
        // No other replica is up: wait for the backoff (the same replica again) or for the first one due back.
        const delay =
          r !== undefined
            ? retryDelayMs(backoffs++, retry.baseDelayMs, retry.maxDelayMs, last?.retryAfterMs)
            : this.untilNextReplica();
        if (performance.now() - first + delay > retry.budgetMs) throw this.gaveUp(last, attempts, true);
        await sleep(delay, opts.signal, attempts);
        r = this.pick(failedOn);
        if (r === undefined) continue;
      }
      attempts++;
      try {
        const gen = await this.attempt(r, prompt, opts);
        return { ...gen, attempts, replica: r.url };
      } catch (err) {
        if (!(err instanceof TargetError)) throw err;
        if (err.kind === 'aborted' || !retryable(err))
          throw new TargetError(err.message, err.kind, err.status, attempts, err.retryAfterMs);
        last = err;
        failedOn = r;
        if (attempts >= maxAttempts) throw this.gaveUp(last, attempts, false);
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.target.close?.()));
  }

  /**
   * The replica the next attempt goes to: of those in rotation (breaker closed, or due for its half-open
   * probe, and not resting after a 429), the one with the fewest outstanding requests for its concurrency;
   * ties take turns. `avoid` (the replica that just failed) only when no other one is up.
   */
  private pick(avoid?: Replica): Replica | undefined {
    const now = Date.now();
    const n = this.replicas.length;
    let best: Replica | undefined;
    let bestIndex = -1;
    for (const pass of [true, false]) {
      for (let k = 0; k < n; k++) {
        const i = (this.cursor + k) % n;
        const r = this.replicas[i] as Replica;
        if (pass && r === avoid) continue;
        if (r.openUntil !== 0 && (r.probing || now < r.openUntil)) continue;
        if (now < r.restUntil) continue;
        // fewer outstanding per unit of concurrency (cross-multiplied: no division)
        if (!best || r.outstanding * best.capacity < best.outstanding * r.capacity) {
          best = r;
          bestIndex = i;
        }
      }
      if (best) break;
    }
    if (!best) return undefined;
    this.cursor = (bestIndex + 1) % n;
    if (best.openUntil !== 0) best.probing = true;
    return best;
  }

  /** How long until a replica may take a request again (a cooldown ends; a probe's answer is awaited). */
  private untilNextReplica(): number {
    const now = Date.now();
    let at = Infinity;
    for (const r of this.replicas) {
      const due = Math.max(r.openUntil === 0 ? 0 : r.probing ? now + 50 : r.openUntil, r.restUntil);
      at = Math.min(at, due);
    }
    return Math.max(1, at - now);
  }

  private async attempt(r: Replica, prompt: Prompt, opts: GenerateOptions): Promise<Generation> {
    r.outstanding++;
    try {
      if (!r.limiter.tryAcquire()) await r.limiter.acquire();
      let tokens = 0;
      try {
        const gen = await r.target.generate(prompt, opts);
        tokens = (gen.usage?.promptTokens ?? 0) + (gen.usage?.completionTokens ?? 0);
        r.limiter.succeeded();
        r.answered++;
        r.failures = 0;
        r.openUntil = 0;
        r.probing = false;
        r.cooldownMs = this.opts.cooldownMs;
        return gen;
      } catch (err) {
        this.failed(r, err);
        throw err;
      } finally {
        r.limiter.release(tokens);
      }
    } finally {
      r.outstanding--;
    }
  }

  /** Counts a failed attempt against its replica when the replica is at fault. */
  private failed(r: Replica, err: unknown): void {
    const wasProbe = r.probing;
    r.probing = false;
    if (!(err instanceof TargetError) || err.kind === 'aborted') {
      // The caller stopped: says nothing about the replica; a probe that was cut is simply due again.
      return;
    }
    if (err.kind === 'http' && err.status === 429) {
      // Busy, not broken: its limiter already halved; a Retry-After rests it while others are up.
      if (err.retryAfterMs !== undefined) r.restUntil = Date.now() + err.retryAfterMs;
      if (wasProbe) r.openUntil = Date.now();
      return;
    }
    if (!retryable(err)) {
      // The request itself was refused (400, 401...): the same on every replica.
      if (wasProbe) r.openUntil = Date.now();
      return;
    }
    r.failed++;
    r.failures++;
    const refused = err.kind === 'network' && /ECONNREFUSED/.test(err.message);
    if (wasProbe || refused || r.failures >= this.opts.failures) {
      // A failed probe doubles the sit-out; a first opening starts at the configured cooldown.
      if (wasProbe) r.cooldownMs = Math.min(MAX_COOLDOWN_MS, r.cooldownMs * 2);
      r.openUntil = Date.now() + r.cooldownMs;
    }
  }

  private gaveUp(last: TargetError | undefined, attempts: number, budget: boolean): TargetError {
    const down = this.replicas.filter((r) => r.openUntil !== 0).length;
    const why = budget
      ? `retry budget of ${this.opts.retry.budgetMs / 1000} s spent`
      : `${attempts} attempts`;
    const message = `${last?.message ?? 'no replica answered'} (gave up after ${why}; ${down} of ${this.replicas.length} replicas of ${this.id} out of rotation)`;
    return new TargetError(message, last?.kind ?? 'network', last?.status, attempts, last?.retryAfterMs);
  }
}

/** Worth another attempt (on this replica or another): as the HTTP client retries. */
function retryable(err: TargetError): boolean {
  if (err.kind === 'network' || err.kind === 'timeout' || err.kind === 'protocol') return true;
  return err.kind === 'http' && err.status !== undefined && RETRYABLE_STATUS.has(err.status);
}

function sleep(ms: number, signal: AbortSignal | undefined, attempts: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new TargetError('aborted', 'aborted', undefined, attempts));
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new TargetError('aborted', 'aborted', undefined, attempts));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
