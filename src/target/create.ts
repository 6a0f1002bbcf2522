import type { TargetSpec } from '../config/schema.js';
import { anthropicProvider } from './anthropic.js';
import { isHttpProvider } from './http-provider.js';
import { llamacppProvider } from './llamacpp.js';
import { mockProvider } from './mock.js';
import { openaiProvider } from './openai.js';
import { sharedLimits } from './pool.js';
import {
  ProviderRegistry,
  providerOptions,
  splitId,
  type ProviderEnv,
  type ProviderFactory,
  type TargetEnv,
} from './provider.js';
import { replayProvider } from './replay.js';
import type { Target } from './target.js';

export type { TargetEnv } from './provider.js';

/**
 * Every provider a target id can name (`<provider>:<model>`); help text and "unknown provider" errors read
 * this list. Add new providers here: one module declaring its `ProviderFactory` (provider.ts), one line.
 */
export const PROVIDERS = new ProviderRegistry([
  openaiProvider,
  anthropicProvider,
  replayProvider,
  llamacppProvider,
  mockProvider,
]);

/** The provider a target id names (`openai:gpt-4o` → openai); an unknown one is an input error at `<path>.id`. */
export function providerOf(spec: TargetSpec, path: string): ProviderFactory {
  return PROVIDERS.factory(splitId(spec.id).provider, `${path}.id`);
}

/** What a provider builds one target with: the run's environment, the target's shared fields and model. */
export function providerEnv(spec: TargetSpec, ctx: TargetEnv): ProviderEnv {
  return { ...ctx, spec, model: splitId(spec.id).model };
}

/**
 * Builds a target from its spec, its options validated by its provider's schema first (defaults filled in);
 * `path` names it in errors (e.g. `targets[0]`).
 */
export function createTarget(spec: TargetSpec, ctx: TargetEnv, path: string): Target {
  const factory = providerOf(spec, path);
  return factory.create(providerOptions(factory, spec, path, ctx.source), providerEnv(spec, ctx), path);
}

/**
 * The model-call service's limits for a target (concurrency, rpm, tpm): a replica pool's concurrency is the
 * sum of its replicas' (each replica limits itself); any other target's are its own fields.
 */
export function endpointLimits(
  spec: TargetSpec,
  path = 'target',
): { concurrency?: number; rpm?: number; tpm?: number } {
  const factory = providerOf(spec, path);
  return isHttpProvider(factory)
    ? factory.limits(providerOptions(factory, spec, path), spec)
    : sharedLimits(spec);
}
