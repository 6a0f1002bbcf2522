import type { TargetSpec } from '../config/schema.js';
import { HttpProviderOptions, resolveEndpoint, type Endpoint, type EndpointDefaults } from './endpoint.js';
import { createPool, httpLimits, singleEndpoint, type OneEndpoint } from './pool.js';
import type { ProviderEnv, ProviderFactory } from './provider.js';
import type { Target } from './target.js';

/**
 * An HTTP provider (openai, anthropic): its options are HttpProviderOptions, its target is built on one
 * resolved endpoint, or on one per replica behind a replica pool (pool.ts). Batch delivery (src/batch/) and
 * the model-call service's limits read the same options through `endpoint` and `limits`.
 */
export interface HttpProviderFactory extends ProviderFactory<typeof HttpProviderOptions> {
  /** The public API's URL and key variable, for targets that name neither. */
  readonly defaults: EndpointDefaults;
  /** The endpoint of a target that sends to one server (its `base_url`, else the provider's). */
  endpoint(options: HttpProviderOptions, env: ProviderEnv, path: string): Endpoint;
  /** The model-call service's limits: a pool's concurrency is its replicas' sum; else the target's own. */
  limits(options: HttpProviderOptions, spec: TargetSpec): ReturnType<typeof httpLimits>;
}

export function httpProvider(p: {
  name: string;
  description: string;
  defaults: EndpointDefaults;
  make: (ep: Endpoint) => Target;
}): HttpProviderFactory {
  const endpoint = (one: OneEndpoint, env: ProviderEnv, path: string): Endpoint =>
    resolveEndpoint(one.spec, one.options, env.model, p.defaults, env.env, path, env.keyOptional);
  const single = (options: HttpProviderOptions, env: ProviderEnv, path: string): Endpoint =>
    endpoint(singleEndpoint(env.spec, options, path), env, path);
  return {
    name: p.name,
    description: p.description,
    options: HttpProviderOptions,
    defaults: p.defaults,
    endpoint: single,
    limits: (options, spec) => httpLimits(spec, options),
    create: (options, env, path) =>
      // A replica pool (`base_url: [..]` or `endpoints:`): one target per replica behind target/pool.ts.
      createPool(env.spec, options, path, (replica, tune) => p.make(tune(endpoint(replica, env, path)))) ??
      p.make(single(options, env, path)),
  };
}

/** Whether a provider speaks HTTP through HttpProviderOptions (batch delivery needs one). */
export function isHttpProvider(f: ProviderFactory): f is HttpProviderFactory {
  return 'endpoint' in f && 'defaults' in f;
}
