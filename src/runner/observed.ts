import pLimit, { type LimitFunction } from 'p-limit';
import type { Generation, Prompt } from '../types.js';
import type { RunStore } from '../store/store.js';
import { canonicalJson, sha256 } from '../util/hash.js';
import { TargetError, type GenerateOptions, type Target } from '../target/target.js';

/**
 * A target as the runner uses it: answers come from the response cache when the identical request was made
 * before (any run), every call is logged in the store with its role and case, and a shared limiter caps
 * concurrent calls (a judge model serves all targets' workers at once).
 */
export class ObservedTarget {
  private readonly limit: LimitFunction;

  constructor(
    readonly inner: Target,
    private readonly store: RunStore,
    private readonly runId: string,
    private readonly role: string,
    private readonly useCache: boolean,
  ) {
    this.limit = pLimit(inner.concurrency);
  }

  /** A Target view whose calls are logged against one case. */
  forCase(caseId: string | null): Target {
    return {
      id: this.inner.id,
      concurrency: this.inner.concurrency,
      cacheIdentity: this.inner.cacheIdentity,
      generate: (prompt, opts) => this.generate(prompt, opts ?? {}, caseId),
    };
  }

  async generate(prompt: Prompt, opts: GenerateOptions, caseId: string | null): Promise<Generation> {
    const key = requestKey(this.inner, prompt, opts);
    if (this.useCache) {
      const hit = this.store.cacheGet(key);
      if (hit) {
        this.log(caseId, { ...hit, cached: true }, undefined);
        return { ...hit, cached: true, attempts: 0, latencyMs: 0 };
      }
    }
    try {
      const gen = await this.limit(() => this.inner.generate(prompt, opts));
      this.store.cachePut(key, this.inner.id, gen);
      this.log(caseId, gen, undefined);
      return gen;
    } catch (err) {
      if (!(err instanceof TargetError && err.kind === 'aborted')) this.log(caseId, undefined, err);
      throw err;
    }
  }

  private log(caseId: string | null, gen: Generation | undefined, err: unknown): void {
    this.store.logRequest({
      run_id: this.runId,
      case_id: caseId,
      role: this.role,
      target: this.inner.id,
      cached: gen?.cached ? 1 : 0,
      status: err === undefined ? 'ok' : 'error',
      latency_ms: gen?.cached ? 0 : (gen?.latencyMs ?? null),
      attempts: gen?.cached ? 0 : (gen?.attempts ?? (err instanceof TargetError ? err.attempts : null)),
      finish_reason: gen?.finishReason ?? null,
      prompt_tokens: gen?.usage?.promptTokens ?? null,
      completion_tokens: gen?.usage?.completionTokens ?? null,
      error: err === undefined ? null : err instanceof Error ? err.message : String(err),
    });
  }
}

const identityJson = new WeakMap<Target, string>();

/** The response-cache key: the endpoint's identity plus everything in the request. */
export function requestKey(target: Target, prompt: Prompt, opts: GenerateOptions): string {
  let identity = identityJson.get(target);
  if (identity === undefined) {
    identity = canonicalJson(target.cacheIdentity);
    identityJson.set(target, identity);
  }
  // A flat list of strings is unambiguous once JSON-encoded, and cheaper than canonicalising the prompt.
  const parts: string[] = [identity, prompt.kind];
  if (prompt.kind === 'chat') for (const m of prompt.messages) parts.push(m.role, m.content);
  else parts.push(prompt.text);
  parts.push(
    opts.params ? canonicalJson(opts.params) : '',
    opts.jsonMode ? 'json' : '',
    String(opts.sample ?? 0),
    opts.logprobs ? canonicalJson(opts.logprobs) : '',
  );
  return sha256(JSON.stringify(parts));
}
