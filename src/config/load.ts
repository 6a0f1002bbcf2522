import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, type Node } from 'yaml';
import type { z } from 'zod';
import { InputError } from '../errors.js';
import { parseWith } from './validate.js';
import { fileErrorReason } from '../util/fs-errors.js';
import { RunConfig } from './schema.js';
import { applyOverrides } from './overrides.js';

export interface LoadedConfig {
  config: RunConfig;
  /** Absolute path of the config file. */
  file: string;
  /** Relative paths in the config resolve against this folder. */
  baseDir: string;
  /** Line lookup for later (factory-level) validation errors. */
  lineOf: (p: (string | number)[]) => number | undefined;
}

/** Reads and validates a YAML or JSON run config; every error names the file, line and config path. */
export function loadRunConfig(file: string, overrides: readonly string[] = []): LoadedConfig {
  return loadYamlFile(file, RunConfig, 'config', overrides);
}

/**
 * Any YAML/JSON file of the CLI (run config, suite, train config): read, `--set` overrides applied, validated
 * against `schema`; errors name the file, line and path. `what` names the file in a read error.
 */
export function loadYamlFile<S extends z.ZodType>(
  file: string,
  schema: S,
  what: string,
  overrides: readonly string[] = [],
): { config: z.output<S>; file: string; baseDir: string; lineOf: LoadedConfig['lineOf'] } {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read ${what}: ${fileErrorReason(err)}`, { file }, err);
  }
  const { value, lineOf } = parseYamlWithLines(text, file);
  const config = parseWith(schema, applyOverrides(value, overrides), [], { file, lineOf });
  return { config, file: abs, baseDir: path.dirname(abs), lineOf };
}

/** How many alias expansions a YAML file may make (a config needs a handful; a bomb needs millions). */
const MAX_ALIASES = 100;

/** YAML (a superset of JSON) with a lookup from a value's path to its 1-based line. */
export function parseYamlWithLines(
  text: string,
  file: string,
): { value: unknown; lineOf: (p: (string | number)[]) => number | undefined } {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: true });
  const first = doc.errors[0];
  if (first) {
    const line = first.linePos?.[0]?.line;
    const message = (first.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw new InputError(`invalid YAML: ${message}`, { file, line });
  }
  const lineOf = (p: (string | number)[]): number | undefined => {
    let node: unknown = doc.contents;
    for (const key of p) {
      if (isMap(node)) {
        const pair = node.items.find((it) => (it.key as { value?: unknown } | null)?.value === key);
        if (!pair) return undefined;
        node = pair.value ?? pair.key;
        if (p[p.length - 1] === key && pair.key) node = pair.key;
      } else if (isSeq(node) && typeof key === 'number') {
        node = node.items[key];
      } else return undefined;
    }
    const range = (node as Node | undefined)?.range;
    return range ? counter.linePos(range[0]).line : undefined;
  };
  let value: unknown;
  try {
    // An alias bomb (aliases of aliases, billions of nodes) stops at the library's alias budget.
    value = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (err) {
    throw new InputError(`invalid YAML: ${(err as Error).message}`, { file }, err);
  }
  return { value, lineOf };
}
