import type { Prompt } from '../types.js';
import type { EndpointInfo, GenerateOptions } from '../target/target.js';
import { canonicalJson, sha256 } from '../util/hash.js';

/**
 * The one place a response-cache key is made: from what is sent — the endpoint each target declares
 * (provider, base URL, model, fixed sampling parameters, system prompt, extra body fields) and the request
 * (messages or raw prompt, per-call parameters, JSON mode, logprobs, sample index). Never from secrets.
 */

const endpointJson = new WeakMap<EndpointInfo, string>();

export function requestKey(endpoint: EndpointInfo, prompt: Prompt, opts: GenerateOptions): string {
  let identity = endpointJson.get(endpoint);
  if (identity === undefined) {
    const { cacheable: _cacheable, ...sent } = endpoint;
    identity = canonicalJson(sent);
    endpointJson.set(endpoint, identity);
  }
  // A flat list of strings is unambiguous once JSON-encoded, and cheaper than canonicalising the prompt.
  const parts: string[] = [identity, prompt.kind];
  if (prompt.kind === 'chat') {
    for (const m of prompt.messages) parts.push(m.role, m.content);
    if (prompt.continueFinal) parts.push('continue-final');
  } else parts.push(prompt.text);
  parts.push(
    opts.params ? canonicalJson(opts.params) : '',
    opts.jsonMode ? 'json' : '',
    String(opts.sample ?? 0),
    opts.logprobs ? canonicalJson(opts.logprobs) : '',
  );
  return sha256(JSON.stringify(parts));
}

/** Which calls share a concurrency limit, a rate budget and a circuit breaker: one server and model. */
export function endpointKey(endpoint: EndpointInfo): string {
  return `${endpoint.provider}|${endpoint.baseUrl ?? ''}|${endpoint.model}`;
}
