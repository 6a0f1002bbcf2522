import { InputError } from '../errors.js';
import type { TargetSpec } from '../config/schema.js';
import { AnthropicTarget } from './anthropic.js';
import { LlamaCppTarget } from './llamacpp.js';
import { MockTarget } from './mock.js';
import { OpenAITarget } from './openai.js';
import { ReplayTarget } from './replay.js';
import type { Target } from './target.js';

export interface TargetEnv {
  env: NodeJS.ProcessEnv;
  /** Relative file paths (replay files, GGUF models) resolve against this folder. */
  baseDir: string;
  /** Dry runs: build targets without requiring their API keys (nothing will be sent). */
  keyOptional?: boolean;
}

/** A provider: the prefix of a target id (`<provider>:<model>`) and how to build its target. */
export interface Provider {
  readonly name: string;
  readonly description: string;
  create(spec: TargetSpec, model: string, ctx: TargetEnv, path: string): Target;
}

/**
 * Every provider, in one list (help text and "unknown provider" errors read it too). Their modules are small
 * and one of them serves nearly every run, so they load with this one (llamacpp imports its engine lazily).
 */
export const PROVIDERS: readonly Provider[] = [
  {
    name: 'openai',
    description:
      'OpenAI-compatible chat + completions API (OpenAI, vLLM, Ollama, llama.cpp server, TGI, Together...)',
    create: (spec, model, ctx, path) => OpenAITarget.fromSpec(spec, model, ctx.env, path, ctx.keyOptional),
  },
  {
    name: 'anthropic',
    description: 'Anthropic Messages API',
    create: (spec, model, ctx, path) => AnthropicTarget.fromSpec(spec, model, ctx.env, path, ctx.keyOptional),
  },
  {
    name: 'replay',
    description: 'recorded responses from a file (replay:<file>)',
    create: (spec, model, ctx, path) => new ReplayTarget(spec.label ?? spec.id, model, ctx.baseDir, path),
  },
  {
    name: 'llamacpp',
    description: 'local GGUF model through the optional node-llama-cpp package (llamacpp:<model.gguf>)',
    create: (spec, model) => new LlamaCppTarget(spec.label ?? spec.id, model, spec),
  },
  {
    name: 'mock',
    description: 'scripted in-process model for dry runs (mock:refuse-plain|refuse|comply|echo|judge)',
    create: (spec, model, _ctx, path) =>
      new MockTarget(spec.label ?? spec.id, model, spec.concurrency ?? 16, path),
  },
];

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
  return provider.create(spec, spec.id.slice(sep + 1), ctx, path);
}
