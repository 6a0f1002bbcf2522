import type { z } from 'zod';
import { InputError } from '../errors.js';
import { parsePath, parseWith, type ConfigSource } from '../config/validate.js';

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

/** What every plugin declares: its name and the schema of its options. */
export interface PluginFactory {
  readonly name: string;
  readonly options: z.ZodType;
}

export class PluginRegistry<F extends PluginFactory> {
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

  /** Loads the plugin a config entry names; its options are still raw (see `validOptions`). */
  async resolve(
    spec: string | Record<string, unknown>,
    path: string,
  ): Promise<{ factory: F; options: unknown; path: string }> {
    const entry = pluginSpec(spec, this.kind, path);
    return { factory: await this.load(entry.name, path), options: entry.options, path: entry.path };
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
export function validOptions<F extends PluginFactory>(
  factory: F,
  raw: unknown,
  path: string,
  source: ConfigSource = {},
): z.output<F['options']> {
  return parseWith(factory.options, raw ?? {}, parsePath(path), source) as z.output<F['options']>;
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
