import { z } from 'zod';
import { InputError } from '../errors.js';
import { addSecret, addUrlSecrets, isCredentialHeader, redactUrl } from '../util/secrets.js';
import type { TargetSpec } from '../config/schema.js';
import type { ChatMessage, Generation, Prompt } from '../types.js';
import { DEFAULT_RETRY, HttpClient, type RetryPolicy } from './http.js';
import {
  TargetError,
  type EndpointInfo,
  type GenerateOptions,
  type SamplingParams,
  type Target,
} from './target.js';

/** A model server's URL: http:// or https:// only. */
const HttpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'base_url must start with http:// or https://');

/** One replica of a pool, with its own limits (else the target's). */
export const ReplicaSpec = z.strictObject({
  base_url: HttpUrl,
  concurrency: z.number().int().positive().max(4096).optional(),
  rpm: z.number().int().positive().optional(),
  tpm: z.number().int().positive().optional(),
});
export type ReplicaSpec = z.infer<typeof ReplicaSpec>;

const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name');

/**
 * The options of an HTTP provider's target (openai, anthropic): where the server is, how to authenticate,
 * timeouts and retries, streaming, replica pools and batch delivery. Configs may write each of them at the
 * top level of the target too (FLAT_PROVIDER_OPTIONS), as they did before providers had options.
 */
export const HttpProviderOptions = z.strictObject({
  /**
   * http:// or https:// only (default: the provider's public API). A list names the replicas of one replica
   * pool (several servers serving the same model; see `endpoints`).
   */
  base_url: z.union([HttpUrl, z.array(HttpUrl).min(1)]).optional(),
  /**
   * A replica pool: several servers serving the same model. Each request goes to the replica with the fewest
   * outstanding requests; each replica has its own concurrency, rpm/tpm budget and circuit breaker (the
   * target's `concurrency`, `rpm` and `tpm` are per replica unless an entry sets its own).
   */
  endpoints: z
    .array(z.union([HttpUrl, ReplicaSpec]))
    .min(1)
    .optional(),
  /** Consecutive failed attempts that take a pool's replica out of rotation (a refused connection: 1). */
  replica_failures: z.number().int().positive().default(3),
  /** How long a failed replica sits out before one probe request is let through (half-open; doubling). */
  replica_cooldown_s: z.number().positive().default(5),
  /** Name of the environment variable holding the API key (never the key itself; default: the provider's). */
  api_key_env: EnvName.optional(),
  /** Literal header values: never stored (the run keeps "[redacted]"); prefer headers_env for secrets. */
  headers: z.record(z.string(), z.string()).default({}),
  /** Header values read from environment variables, e.g. `{X-Api-Key: MY_KEY_VAR}` (non-Bearer auth). */
  headers_env: z.record(z.string(), EnvName).default({}),
  /** Extra request-body fields merged into every request (e.g. vLLM's `continue_final_message`). */
  extra_body: z.record(z.string(), z.unknown()).default({}),
  /**
   * Time from sending a request to its first response byte. Counted from when the request is sent, never
   * while it waits for a concurrency slot. A stream that keeps sending is never cut by it.
   */
  timeout_s: z.number().positive().default(120),
  /** TCP/TLS connect timeout. */
  connect_timeout_s: z.number().positive().default(10),
  /** Longest silence between two chunks of a streamed (or slow) body. */
  idle_timeout_s: z.number().positive().default(60),
  /** Optional total deadline per attempt, however much progress the stream makes. */
  deadline_s: z.number().positive().optional(),
  /** Longest total time spent retrying one request before it fails. */
  retry_budget_s: z.number().positive().default(120),
  /** Retries after the first attempt (429, 5xx, timeouts, connection resets). */
  retries: z.number().int().min(0).max(20).default(DEFAULT_RETRY.retries),
  /** Base of the exponential backoff, in seconds (jittered; a Retry-After header wins). */
  backoff_s: z
    .number()
    .min(0)
    .default(DEFAULT_RETRY.baseDelayMs / 1000),
  /** Use SSE streaming (same result; lets long generations survive idle-timeout proxies). */
  stream: z.boolean().default(false),
  /** For chat-only APIs given a raw-text prompt: refuse (`error`) or send it as an assistant prefill. */
  completion_fallback: z.enum(['error', 'prefill']).default('error'),
  /** Batch delivery: seconds between two polls of a submitted batch (env REFUSENIK_BATCH_POLL_S overrides). */
  batch_poll_s: z.number().positive().default(30),
  /** Batch delivery: requests per batch file, within the provider's limit (OpenAI 50,000; Anthropic 100,000). */
  batch_max_requests: z.number().int().positive().max(100_000).optional(),
});
export type HttpProviderOptions = z.output<typeof HttpProviderOptions>;

/** What every HTTP provider needs, resolved from a target's options and the environment. */
export interface Endpoint {
  id: string;
  model: string;
  baseUrl: string;
  /** From the environment variable the spec names; never stored, logged or put in a cache key. */
  apiKey: string | undefined;
  params: SamplingParams;
  systemPrompt?: string;
  headers: Record<string, string>;
  extraBody: Record<string, unknown>;
  concurrency: number;
  timeoutMs: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  deadlineMs: number | undefined;
  retryBudgetMs: number;
  retry: RetryPolicy;
  stream: boolean;
  completionFallback: 'error' | 'prefill';
}

/** An HTTP target's concurrency when its spec sets none. */
export const DEFAULT_CONCURRENCY = 8;

export interface EndpointDefaults {
  baseUrl: string;
  apiKeyEnv: string;
}

/**
 * The endpoint of one server from a target's shared fields and validated options (a replica pool resolves one
 * per replica); `path` names the target in errors (e.g. `targets[0]`).
 */
export function resolveEndpoint(
  spec: TargetSpec,
  o: HttpProviderOptions,
  model: string,
  defaults: EndpointDefaults,
  env: NodeJS.ProcessEnv,
  path: string,
  /** A dry run builds targets it never calls: a missing key is not an error there. */
  keyOptional = false,
): Endpoint {
  // A replica pool (target/pool.ts) resolves one endpoint per replica, each with its own URL.
  const url = Array.isArray(o.base_url) ? o.base_url[0] : o.base_url;
  const baseUrl = (url ?? defaults.baseUrl).replace(/\/+$/, '');
  // Credentials in the URL (user:password@, ?api-key=...) are secrets like keys, from the first error on.
  addUrlSecrets(baseUrl);
  const keyEnv = o.api_key_env ?? defaults.apiKeyEnv;
  const apiKey = env[keyEnv] || undefined;
  // A local server (vLLM, Ollama, llama.cpp, the mock) needs no key; a public API does.
  if (apiKey === undefined && !keyOptional && (o.api_key_env !== undefined || !isLoopback(baseUrl))) {
    throw new InputError(
      `environment variable ${keyEnv} is not set (it should hold the API key for ${redactUrl(baseUrl)}); ` +
        'set it, or name another variable with api_key_env',
      { field: `${path}.api_key_env` },
    );
  }
  const headers: Record<string, string> = { ...o.headers };
  // Literal header values are never stored; those with a credential-like name are keys (cut pieces too).
  for (const [name, v] of Object.entries(headers)) addSecret(v, { credential: isCredentialHeader(name) });
  for (const [name, variable] of Object.entries(o.headers_env)) {
    const value = env[variable];
    if (value === undefined || value === '') {
      if (keyOptional) continue;
      throw new InputError(`environment variable ${variable} is not set (header ${name} reads it)`, {
        field: `${path}.headers_env.${name}`,
      });
    }
    headers[name] = value;
    addSecret(value);
  }
  // Keys and header values never reach the store, logs, errors or reports (util/secrets.ts).
  addSecret(apiKey);
  return {
    id: spec.label ?? spec.id,
    model,
    baseUrl,
    apiKey,
    params: {
      temperature: spec.temperature,
      maxTokens: spec.max_tokens,
      topP: spec.top_p,
      stop: spec.stop,
      seed: spec.seed,
    },
    systemPrompt: spec.system_prompt,
    headers,
    extraBody: o.extra_body,
    concurrency: spec.concurrency ?? DEFAULT_CONCURRENCY,
    timeoutMs: o.timeout_s * 1000,
    connectTimeoutMs: o.connect_timeout_s * 1000,
    idleTimeoutMs: o.idle_timeout_s * 1000,
    deadlineMs: o.deadline_s !== undefined ? o.deadline_s * 1000 : undefined,
    retryBudgetMs: o.retry_budget_s * 1000,
    retry: { ...DEFAULT_RETRY, retries: o.retries, baseDelayMs: o.backoff_s * 1000 },
    stream: o.stream,
    completionFallback: o.completion_fallback,
  };
}

export function httpClientFor(ep: Endpoint): HttpClient {
  return new HttpClient({
    timeoutMs: ep.timeoutMs,
    connectTimeoutMs: ep.connectTimeoutMs,
    idleTimeoutMs: ep.idleTimeoutMs,
    deadlineMs: ep.deadlineMs,
    retryBudgetMs: ep.retryBudgetMs,
    retry: ep.retry,
    connections: ep.concurrency,
    secrets: ep.apiKey ? [ep.apiKey] : [],
  });
}

/** What an HTTP endpoint sends: everything that changes answers, nothing secret. */
export function endpointInfo(provider: string, ep: Endpoint): EndpointInfo {
  return {
    provider,
    baseUrl: ep.baseUrl,
    model: ep.model,
    params: { ...ep.params, systemPrompt: ep.systemPrompt ?? null, extraBody: ep.extraBody },
    cacheable: true,
  };
}

/**
 * What every HTTP provider's target shares: its endpoint, one HTTP client (keep-alive pool, timeouts,
 * retries), the headers every request of its API carries (key included), rate-limit events and close.
 */
export abstract class HttpTarget implements Target {
  readonly id: string;
  readonly concurrency: number;
  readonly endpoint: EndpointInfo;
  protected readonly http: HttpClient;

  constructor(
    provider: string,
    protected readonly ep: Endpoint,
    /** The endpoint's headers and its key as this API takes it (batch delivery sends the same). */
    readonly headers: Record<string, string>,
  ) {
    this.id = ep.id;
    this.concurrency = ep.concurrency;
    this.endpoint = endpointInfo(provider, ep);
    this.http = httpClientFor(ep);
  }

  abstract generate(prompt: Prompt, opts?: GenerateOptions): Promise<Generation>;

  onRateLimited(listener: () => void): void {
    this.http.onRateLimited(listener);
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}

export function isLoopback(url: string): boolean {
  try {
    const host = new URL(url).hostname;
    return host === 'localhost' || host === '::1' || host === '[::1]' || host.startsWith('127.');
  } catch {
    return false;
  }
}

/** Per-call parameters over the target's own; undefined fields are left out of the request. */
export function mergeParams(base: SamplingParams, over: SamplingParams | undefined): SamplingParams {
  const out: SamplingParams = { ...base };
  for (const [k, v] of Object.entries(over ?? {}))
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/**
 * The chat messages to send: the target's system prompt goes first unless the prompt brings its own. A raw
 * text prompt becomes an assistant prefill only where the config allows it (a different threat model).
 */
export function chatMessages(prompt: Prompt, ep: Endpoint): ChatMessage[] {
  let messages: ChatMessage[];
  if (prompt.kind === 'chat') messages = prompt.messages;
  else if (ep.completionFallback === 'prefill') messages = [{ role: 'assistant', content: prompt.text }];
  else {
    throw new TargetError(
      `${ep.id} takes chat prompts; this attack sends raw text (set completion_fallback: prefill to send it as an ` +
        'assistant prefill, a different threat model)',
      'config',
    );
  }
  if (ep.systemPrompt !== undefined && messages[0]?.role !== 'system') {
    messages = [{ role: 'system', content: ep.systemPrompt }, ...messages];
  }
  return messages;
}

/** Drops undefined values so requests carry only what was set. */
export function compact(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}
