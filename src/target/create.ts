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

/** Providers by the prefix of a target id (`<provider>:<model>`). */
export const PROVIDERS: Record<string, string> = {
  openai:
    'OpenAI-compatible chat + completions API (OpenAI, vLLM, Ollama, llama.cpp server, TGI, Together...)',
  anthropic: 'Anthropic Messages API',
  replay: 'recorded responses from a file (replay:<file>)',
  llamacpp: 'local GGUF model through the optional node-llama-cpp package (llamacpp:<model.gguf>)',
  mock: 'scripted in-process model for dry runs (mock:refuse-plain|refuse|comply|echo|judge)',
};

/** Builds a target from its spec; `path` names it in errors (e.g. `targets[0]`). */
export function createTarget(spec: TargetSpec, ctx: TargetEnv, path: string): Target {
  const sep = spec.id.indexOf(':');
  const provider = spec.id.slice(0, sep);
  const model = spec.id.slice(sep + 1);
  const id = spec.label ?? spec.id;
  switch (provider) {
    case 'openai':
      return OpenAITarget.fromSpec(spec, model, ctx.env, path, ctx.keyOptional);
    case 'anthropic':
      return AnthropicTarget.fromSpec(spec, model, ctx.env, path, ctx.keyOptional);
    case 'replay':
      return new ReplayTarget(id, model, ctx.baseDir, path);
    case 'llamacpp':
      return new LlamaCppTarget(id, model, spec);
    case 'mock':
      return new MockTarget(id, model, spec.concurrency ?? 16, path);
    default:
      throw new InputError(
        `unknown provider '${provider}'; available: ${Object.keys(PROVIDERS).join(', ')}`,
        { field: `${path}.id` },
      );
  }
}
