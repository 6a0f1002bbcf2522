import { z } from 'zod';
import { InputError } from '../errors.js';
import { parsePath, parseWith, type ConfigSource } from '../config/validate.js';
import type { TargetSpec } from '../config/schema.js';
import { AnthropicTarget } from './anthropic.js';
import { resolveEndpoint, type Endpoint, type EndpointDefaults } from './endpoint.js';
import { LlamaCppTarget } from './llamacpp.js';
import { MockTarget } from './mock.js';
import { OpenAITarget } from './openai.js';
import { createPool, singleEndpoint } from './pool.js';
import { ReplayTarget } from './replay.js';
import type { Target } from './target.js';

export interface TargetEnv {
  env: NodeJS.ProcessEnv;
  /** Relative file paths (replay files, GGUF models) resolve against this folder. */
  baseDir: string;
  /** Dry runs: build targets without requiring their API keys (nothing will be sent). */
  keyOptional?: boolean;
  /** The config file, so option errors name its line. */
  source?: ConfigSource;
}

/** A provider: the prefix of a target id (`<provider>:<model>`) and how to build its target. */
export interface Provider {
  readonly name: string;
  readonly description: string;
  /** The schema of a target's `options` for this provider (a misspelt key is an error, dry run included). */
  readonly options: z.ZodType;
  create(spec: TargetSpec, model: string, ctx: TargetEnv, path: string): Target;
}

const NO_OPTIONS = z.strictObject({});
const LLAMACPP_OPTIONS = z.strictObject({
  /** Layers to offload to the GPU (node-llama-cpp's gpuLayers). */
  gpu_layers: z.number().int().min(0).optional(),
  /** Context window in tokens. */
  context_size: z.number().int().positive().optional(),
});

/**
 * Every provider, in one list (help text and "unknown provider" errors read it too). Their modules are small
 * and one of them serves nearly every run, so they load with this one (llamacpp imports its engine lazily).
 */
export const PROVIDERS: readonly Provider[] = [
  httpProvider(
    'openai',
    'OpenAI-compatible chat + completions API (OpenAI, vLLM, Ollama, llama.cpp server, TGI, Together...)',
    (ep) => new OpenAITarget(ep),
    { baseUrl: 'https://api.openai.com/v1', apiKeyEnv: 'OPENAI_API_KEY' },
  ),
  httpProvider('anthropic', 'Anthropic Messages API', (ep) => new AnthropicTarget(ep), {
    baseUrl: 'https://api.anthropic.com',
    apiKeyEnv: 'ANTHROPIC_API_KEY',
  }),
  {
    name: 'replay',
    description: 'recorded responses from a file (replay:<file>)',
    options: NO_OPTIONS,
    create: (spec, model, ctx, path) => new ReplayTarget(spec.label ?? spec.id, model, ctx.baseDir, path),
  },
  {
    name: 'llamacpp',
    description: 'local GGUF model through the optional node-llama-cpp package (llamacpp:<model.gguf>)',
    options: LLAMACPP_OPTIONS,
    create: (spec, model) => new LlamaCppTarget(spec.label ?? spec.id, model, spec),
  },
  {
    name: 'mock',
    description: 'scripted in-process model for dry runs (mock:refuse-plain|refuse|comply|echo|judge)',
    options: NO_OPTIONS,
    create: (spec, model, _ctx, path) =>
      new MockTarget(spec.label ?? spec.id, model, spec.concurrency ?? 16, path),
  },
];

/** An HTTP provider: its target on the spec's URL and key variable, or the provider's defaults. */
function httpProvider(
  name: string,
  description: string,
  make: (ep: Endpoint) => Target,
  defaults: EndpointDefaults,
): Provider {
  return {
    name,
    description,
    options: NO_OPTIONS,
    create: (spec, model, ctx, path) => {
      const endpoint = (one: TargetSpec): Endpoint =>
        resolveEndpoint(one, model, defaults, ctx.env, path, ctx.keyOptional);
      // A replica pool (`base_url: [..]` or `endpoints:`): one target per replica behind target/pool.ts.
      const pool = createPool(spec, path, (replica, tune) => make(tune(endpoint(replica))));
      return pool ?? make(endpoint(singleEndpoint(spec, path)));
    },
  };
}

/** Builds a target from its spec; `path` names it in errors (e.g. `targets[0]`). */
export function createTarget(spec: TargetSpec, ctx: TargetEnv, path: string): Target {
  const sep = spec.id.indexOf(':');
  const name = spec.id.slice(0, sep);
  const provider = PROVIDERS.find((p) => p.name === name);
  if (!provider) {
    throw new InputError(
      `unknown provider '${name}'; available: ${PROVIDERS.map((p) => p.name).join(', ')}`,
      { field: `${path}.id` },
    );
  }
  parseWith(provider.options, spec.options ?? {}, [...parsePath(path), 'options'], ctx.source);
  return provider.create(spec, spec.id.slice(sep + 1), ctx, path);
}
