import { z } from 'zod';
import { InputError } from '../errors.js';
import { parsePath, parseWith, type ConfigSource } from './validate.js';

/**
 * One kind of plugin (attacks, judges, target providers): each is declared by name and one-line description,
 * and its module is imported only when a config or command names it. Help text and "unknown name" errors
 * need no plugin module at all.
 */
export interface PluginEntry<F> {
  readonly name: string;
  readonly description: string;
  load(): Promise<F>;
}

/** What every plugin declares: its name, the schema of its options, and how it is built from them. */
export interface PluginFactory<S extends z.ZodType = z.ZodType, E = never, R = unknown> {
  readonly name: string;
  readonly options: S;
  /** `options` are validated already; `path` names them in errors (e.g. `attacks[1].codeattack`). */
  create(options: z.output<S>, env: E, path: string): R;
}

/** What a plugin is built with: at least where its config came from (for errors naming lines). */
export interface PluginEnv {
  source?: ConfigSource;
}

export class PluginRegistry<E extends PluginEnv, R, F extends PluginFactory<z.ZodType, E, R>> {
  private readonly loaded = new Map<string, Promise<F>>();

  constructor(
    /** What one plugin is called in errors: 'attack', 'judge', 'provider'. */
    readonly kind: string,
    readonly entries: readonly PluginEntry<F>[],
  ) {}

  names(): string[] {
    return this.entries.map((e) => e.name);
  }

  entry(name: string, field: string): PluginEntry<F> {
    const e = this.entries.find((x) => x.name === name);
    if (!e)
      throw new InputError(`unknown ${this.kind} '${name}'; available: ${this.names().join(', ')}`, {
        field,
      });
    return e;
  }

  /** The named plugin's factory, importing its module on first use. */
  load(name: string, field: string): Promise<F> {
    const e = this.entry(name, field);
    let f = this.loaded.get(name);
    if (!f) {
      f = e.load().then((factory) => {
        if (factory.name !== name)
          throw new Error(`${this.kind} '${name}' loaded a factory named '${factory.name}'`);
        return factory;
      });
      this.loaded.set(name, f);
    }
    return f;
  }

  /** Builds the plugin a config entry (`name` or `{name: options}`) names, loading its module first. */
  async create(spec: string | Record<string, unknown>, env: E, path: string): Promise<Awaited<R>> {
    const entry = pluginSpec(spec, this.kind, path);
    const factory = await this.load(entry.name, path);
    return await createFrom(factory, entry.options, env, entry.path);
  }

  /** `name: description` lines for help text, one per plugin. */
  helpList(indent = '  '): string {
    return this.entries.map((e) => `\n${indent}${e.name}: ${e.description}`).join('');
  }
}

/**
 * A plugin's options validated with its own schema (absent options are `{}`), so every plugin's errors name
 * the file, line and key path (`attacks[1].codeattack.encoding`) the same way, before the plugin runs.
 */
export function validOptions<S extends z.ZodType>(
  factory: { readonly options: S },
  raw: unknown,
  path: string,
  source: ConfigSource = {},
): z.output<S> {
  return parseWith(factory.options, raw ?? {}, parsePath(path), source);
}

/** A loaded factory's plugin from raw config options, validated first (synchronous: tests, loaded plugins). */
export function createFrom<S extends z.ZodType, E extends PluginEnv, R>(
  factory: PluginFactory<S, E, R>,
  raw: unknown,
  env: NoInfer<E>,
  path: string,
): R {
  return factory.create(validOptions(factory, raw, path, env.source), env, path);
}

/** The keys an options schema declares (what a plugin accepts, e.g. whether it takes a `model`). */
export function optionKeys(schema: z.ZodType): string[] {
  const inner = schema instanceof z.ZodPipe ? schema.in : schema;
  return inner instanceof z.ZodObject ? Object.keys(inner.shape) : [];
}

/** A config entry naming a plugin: `name` or the one-key map `{name: options}`. */
export function pluginSpec(
  spec: string | Record<string, unknown>,
  kind: string,
  path: string,
): { name: string; options: unknown; path: string } {
  if (typeof spec === 'string') return { name: spec, options: undefined, path };
  const keys = Object.keys(spec);
  if (keys.length !== 1)
    throw new InputError(`${articleFor(kind)} ${kind} entry is a name or a one-key map {name: options}`, {
      field: path,
    });
  const name = keys[0] as string;
  return { name, options: spec[name], path: `${path}.${name}` };
}

function articleFor(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}
