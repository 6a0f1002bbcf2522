import type { Generation, Prompt } from '../types.js';

/** Sampling parameters a run may set per target (and a judge or attacker model per call). */
export interface SamplingParams {
  temperature?: number;
  maxTokens?: number;
  topP?: number;
  stop?: string[];
  seed?: number;
}

export interface GenerateOptions {
  signal?: AbortSignal;
  /** Per-call overrides of the target's sampling parameters. */
  params?: SamplingParams;
  /** Ask for the JSON response format where the API supports it (judges). */
  jsonMode?: boolean;
  /** Sample index: part of the cache key, so samples > 1 are not collapsed into one cached answer. */
  sample?: number;
  /** Return prompt token logprobs (echo) and completion logprobs, where supported. */
  logprobs?: { echo?: boolean; top?: number };
  /**
   * The caller stores this call's answer itself, in a row that holds every request-log field (the runner's
   * case row, for single-turn attacks): the model-call service then writes no separate request-log row for
   * a success and reports its cost in `Generation.costUsd` (failures are logged as usual). One row per case
   * instead of two.
   */
  recordedByCaller?: boolean;
}

/**
 * What a target sends to, declared by each provider: the model-call service makes the response-cache key
 * from it (with the request), and groups calls by it for concurrency, rate budgets and circuit breaking.
 * Never holds secrets.
 */
export interface EndpointInfo {
  provider: string;
  /** The server (null for in-process models). */
  baseUrl: string | null;
  model: string;
  /** Fixed sampling parameters and anything else that changes answers (system prompt, extra body). */
  params: Record<string, unknown>;
  /** False for targets whose answers are already recorded or scripted (replay, mock): never cached. */
  cacheable: boolean;
}

/** A model endpoint that turns a Prompt into a Generation. */
export interface Target {
  /** The user-facing id, e.g. `openai:gpt-4o-mini`. */
  readonly id: string;
  /** How many requests may be in flight at once. */
  readonly concurrency: number;
  readonly endpoint: EndpointInfo;
  /**
   * How requests reach the model: `live` (default, one HTTP request per call) or `batch` (a provider batch
   * API, src/batch/): the model-call service then charges the provider's batch price.
   */
  readonly delivery?: 'live' | 'batch';
  generate(prompt: Prompt, opts?: GenerateOptions): Promise<Generation>;
  /** Called on every rate-limited attempt (HTTP 429), retried or not, so the service can back off. */
  onRateLimited?: (listener: () => void) => void;
  /** Release sockets, model handles. */
  close?(): Promise<void>;
}

/** Why a request finally failed, after retries. */
export type TargetErrorKind =
  | 'http'
  | 'timeout'
  | 'network'
  | 'protocol'
  | 'aborted'
  | 'config'
  | 'content'
  /** The endpoint's circuit breaker is open: too many consecutive failures; the run stops. */
  | 'circuit'
  /** `--max-cost` is spent; the run stops, resumable. */
  | 'budget'
  /**
   * The request is in a provider batch that this process does not wait for (`run --no-wait`): not a failure;
   * the case stays unfinished and a later `run` collects its answer (src/batch/).
   */
  | 'deferred';

export class TargetError extends Error {
  constructor(
    message: string,
    readonly kind: TargetErrorKind,
    readonly status?: number,
    readonly attempts = 1,
    /** The wait the server asked for (Retry-After) with its last answer, when it sent one. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'TargetError';
  }
}
