import { InputError } from '../errors.js';
import { addSecret, addUrlSecrets, isCredentialHeader, redactUrl } from '../util/secrets.js';
import type { TargetSpec } from '../config/schema.js';
import type { ChatMessage, Prompt } from '../types.js';
import { DEFAULT_RETRY, HttpClient, type RetryPolicy } from './http.js';
import { TargetError, type EndpointInfo, type SamplingParams } from './target.js';

/** What every HTTP provider needs, resolved from a TargetSpec and the environment. */
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

export interface EndpointDefaults {
  baseUrl: string;
  apiKeyEnv: string;
}

/** Resolves the spec's endpoint; `path` names the spec in errors (e.g. `targets[0]`). */
export function resolveEndpoint(
  spec: TargetSpec,
  model: string,
  defaults: EndpointDefaults,
  env: NodeJS.ProcessEnv,
  path: string,
  /** A dry run builds targets it never calls: a missing key is not an error there. */
  keyOptional = false,
): Endpoint {
  // A replica pool (target/pool.ts) resolves one endpoint per replica, each with its own URL.
  const url = Array.isArray(spec.base_url) ? spec.base_url[0] : spec.base_url;
  const baseUrl = (url ?? defaults.baseUrl).replace(/\/+$/, '');
  // Credentials in the URL (user:password@, ?api-key=...) are secrets like keys, from the first error on.
  addUrlSecrets(baseUrl);
  const keyEnv = spec.api_key_env ?? defaults.apiKeyEnv;
  const apiKey = env[keyEnv] || undefined;
  // A local server (vLLM, Ollama, llama.cpp, the mock) needs no key; a public API does.
  if (apiKey === undefined && !keyOptional && (spec.api_key_env !== undefined || !isLoopback(baseUrl))) {
    throw new InputError(
      `environment variable ${keyEnv} is not set (it should hold the API key for ${redactUrl(baseUrl)}); ` +
        'set it, or name another variable with api_key_env',
      { field: `${path}.api_key_env` },
    );
  }
  const headers: Record<string, string> = { ...spec.headers };
  // Literal header values are never stored; those with a credential-like name are keys (cut pieces too).
  for (const [name, v] of Object.entries(headers)) addSecret(v, { credential: isCredentialHeader(name) });
  for (const [name, variable] of Object.entries(spec.headers_env ?? {})) {
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
    extraBody: spec.extra_body ?? {},
    concurrency: spec.concurrency ?? 8,
    timeoutMs: (spec.timeout_s ?? 120) * 1000,
    connectTimeoutMs: (spec.connect_timeout_s ?? 10) * 1000,
    idleTimeoutMs: (spec.idle_timeout_s ?? 60) * 1000,
    deadlineMs: spec.deadline_s !== undefined ? spec.deadline_s * 1000 : undefined,
    retryBudgetMs: (spec.retry_budget_s ?? 120) * 1000,
    retry: {
      ...DEFAULT_RETRY,
      retries: spec.retries ?? DEFAULT_RETRY.retries,
      baseDelayMs: spec.backoff_s !== undefined ? spec.backoff_s * 1000 : DEFAULT_RETRY.baseDelayMs,
    },
    stream: spec.stream ?? false,
    completionFallback: spec.completion_fallback ?? 'error',
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
