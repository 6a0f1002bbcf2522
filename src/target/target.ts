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
}

/** A model endpoint that turns a Prompt into a Generation. */
export interface Target {
  /** The user-facing id, e.g. `openai:gpt-4o-mini`. */
  readonly id: string;
  /** How many requests may be in flight at once. */
  readonly concurrency: number;
  /** What identifies this endpoint's answers for caching: provider, base URL, model, fixed parameters. No secrets. */
  readonly cacheIdentity: Record<string, unknown>;
  generate(prompt: Prompt, opts?: GenerateOptions): Promise<Generation>;
  /** Release sockets, model handles. */
  close?(): Promise<void>;
}

/** Why a request finally failed, after retries. */
export type TargetErrorKind = 'http' | 'timeout' | 'network' | 'protocol' | 'aborted' | 'config' | 'content';

export class TargetError extends Error {
  constructor(
    message: string,
    readonly kind: TargetErrorKind,
    readonly status?: number,
    readonly attempts = 1,
  ) {
    super(message);
    this.name = 'TargetError';
  }
}
