import { once } from 'node:events';
import { parse as parseYamlScalar } from 'yaml';
import { InputError } from '../errors.js';
import { AtomicFile, type OutputOptions } from '../util/atomic-write.js';
import { redact } from '../util/secrets.js';
import { terminalSafeJson } from '../util/terminal.js';
import type { DatasetSpec } from '../dataset/load.js';

/** `--dataset` accepts a file path or `pack:<pack>/<file inside the pack>`. */
export function datasetSpecFromArg(arg: string, extra: Partial<DatasetSpec> = {}): DatasetSpec {
  const m = /^pack:([^/]+)\/(.+)$/.exec(arg);
  return m ? { pack: m[1], file: m[2], ...extra } : { path: arg, ...extra };
}

/** Parses an integer option, naming the flag when it is not one. */
export function intOption(flag: string, min = 0): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new InputError(`${flag} expects an integer >= ${min}, got '${v}'`);
    return n;
  };
}

/** `--option key=value` (repeatable): values are YAML scalars, so numbers and booleans keep their type. */
export function collectOption(v: string, acc: Record<string, unknown>): Record<string, unknown> {
  const eq = v.indexOf('=');
  if (eq <= 0) throw new InputError(`--option expects key=value, got '${v}'`);
  acc[v.slice(0, eq)] = parseScalar(v.slice(eq + 1));
  return acc;
}

export function parseScalar(v: string): unknown {
  try {
    return parseYamlScalar(v) as unknown;
  } catch {
    return v;
  }
}

/**
 * Writes JSON Lines to stdout for `-` (respecting back-pressure), else through the safe writer (atomically
 * to a regular file, in place to a FIFO or device; never over `opts.protect`); secrets redacted.
 */
export async function writeJsonl(
  out: string,
  rows: Iterable<unknown>,
  opts: OutputOptions = {},
): Promise<number> {
  let n = 0;
  if (out === '-') {
    for (const row of rows) {
      if (!process.stdout.write(`${terminalSafeJson(redact(JSON.stringify(row)))}\n`))
        await once(process.stdout, 'drain');
      n++;
    }
    return n;
  }
  const file = new AtomicFile(out, opts);
  try {
    let chunk: string[] = [];
    for (const row of rows) {
      chunk.push(`${redact(JSON.stringify(row))}\n`);
      n++;
      if (chunk.length >= 1024) {
        file.write(chunk.join(''));
        chunk = [];
      }
    }
    file.write(chunk.join(''));
    file.commit();
  } catch (err) {
    file.abort();
    throw err;
  }
  return n;
}

/** Prints a value as one JSON document on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${terminalSafeJson(JSON.stringify(value, null, 2))}\n`);
}
