import type { z } from 'zod';
import { InputError } from '../errors.js';
import { FLAT_PROVIDER_OPTIONS, type TargetSpec } from '../config/schema.js';
import {
  optionKeys,
  PluginRegistry,
  validOptions,
  type PluginEntry,
  type PluginFactory,
} from '../config/plugin-registry.js';
import { formatPath, parsePath, type ConfigSource } from '../config/validate.js';
import type { Target } from './target.js';

/**
 * Providers are plugins like attacks and judges (config/plugin-registry.ts): each is one module declaring its
 * name, a one-line description, the zod schema of its `options` and how it builds a target from them. The host
 * (create.ts) validates a target's options with that schema before `create` runs, defaults filled in, so a
 * provider reads typed options and never the raw config.
 */

/** What every target is built with. */
export interface TargetEnv {
  env: NodeJS.ProcessEnv;
  /** Relative file paths (replay files, GGUF models) resolve against this folder. */
  baseDir: string;
  /** Dry runs: build targets without requiring their API keys (nothing will be sent). */
  keyOptional?: boolean;
  /** The config file, so option errors name its line. */
  source?: ConfigSource;
}

/** What one target is built with: the run's environment, and the target's own shared fields and model. */
export interface ProviderEnv extends TargetEnv {
  /** The fields every provider shares (id, label, sampling, concurrency...), as the config wrote them. */
  spec: TargetSpec;
  /** The id after `<provider>:` (a model name, a file, a mock script). */
  model: string;
}

/** A provider: `<name>:<model>` target ids are built by `create` from options validated with `options`. */
export interface ProviderFactory<S extends z.ZodType = z.ZodType> extends PluginFactory<
  S,
  ProviderEnv,
  Target
> {
  /** One line for help text and "unknown provider" errors. */
  readonly description: string;
}

/**
 * The providers, by name. Unlike attacks and judges their modules load with the list: targets are built
 * synchronously (a judge asks for its model while it is created), the modules are small, and a heavy engine
 * (node-llama-cpp) is imported by its provider only when its first call runs.
 */
export class ProviderRegistry extends PluginRegistry<ProviderEnv, Target, ProviderFactory> {
  constructor(readonly factories: readonly ProviderFactory[]) {
    super(
      'provider',
      factories.map((f): PluginEntry<ProviderFactory> => ({
        name: f.name,
        description: f.description,
        load: () => Promise.resolve(f),
      })),
    );
  }

  /** The named provider's factory; an unknown name is an input error listing every provider. */
  factory(name: string, field: string): ProviderFactory {
    this.entry(name, field);
    return this.factories.find((f) => f.name === name) as ProviderFactory;
  }
}

/** A target id's provider name and model (`openai:gpt-4o` → `openai`, `gpt-4o`). */
export function splitId(id: string): { provider: string; model: string } {
  const sep = id.indexOf(':');
  return { provider: id.slice(0, sep), model: id.slice(sep + 1) };
}

/**
 * A target's options for its provider, validated with the provider's schema (defaults filled in): its
 * `options` map, plus the flat top-level fields configs wrote before providers had options
 * (FLAT_PROVIDER_OPTIONS) that this provider declares. A flat field the provider does not declare is
 * ignored, as it always was; the same field given flat and under `options` is an error. Errors name the key
 * where the config wrote it (`targets[0].base_url`, `targets[0].options.gpu_layers`) and its line.
 */
export function providerOptions<F extends ProviderFactory>(
  factory: F,
  spec: TargetSpec,
  path: string,
  source: ConfigSource = {},
): z.output<F['options']> {
  const declared = new Set(optionKeys(factory.options));
  const raw: Record<string, unknown> = { ...spec.options };
  const flat = new Set<string>();
  for (const key of FLAT_PROVIDER_OPTIONS) {
    if (spec[key] === undefined || !declared.has(key)) continue;
    if (key in raw) {
      const at = [...parsePath(path), 'options', key];
      const line = source.lineOf?.(at);
      throw new InputError(`${key} is given twice: at the top level and under options (keep one)`, {
        field: formatPath(at),
        ...(source.file ? { file: source.file } : {}),
        ...(line !== undefined ? { line } : {}),
      });
    }
    raw[key] = spec[key];
    flat.add(key);
  }
  const checked = factory.options.safeParse(raw);
  if (checked.success) return checked.data as z.output<F['options']>;
  // The first problem again, named where the config wrote its key.
  const key = checked.error.issues[0]?.path[0];
  const at = typeof key === 'string' && flat.has(key) ? path : `${path}.options`;
  return validOptions(factory, raw, at, source) as z.output<F['options']>;
}
