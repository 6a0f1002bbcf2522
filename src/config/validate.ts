import type { z } from 'zod';
import { InputError, type SourceLocation } from '../errors.js';

/** Where a config value came from, for errors: the file and a function from a config path to its line. */
export interface ConfigSource {
  file?: string;
  lineOf?: (path: (string | number)[]) => number | undefined;
}

/**
 * Validates `value` with a zod schema and turns the first problem into an InputError naming the file, line
 * and the full config path (`attacks[1].codeattack.language`), with the allowed values where zod knows them.
 */
export function parseWith<T extends z.ZodType>(
  schema: T,
  value: unknown,
  basePath: (string | number)[] = [],
  source: ConfigSource = {},
): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0] as z.core.$ZodIssue;
  let fullPath = [...basePath, ...(issue.path as (string | number)[])];
  let message = describeIssue(issue);
  if (issue.code === 'unrecognized_keys' && issue.keys.length) {
    fullPath = [...fullPath, issue.keys[0] as string];
    message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  }
  const loc: SourceLocation = { field: formatPath(fullPath) || undefined };
  if (source.file) loc.file = source.file;
  const line = source.lineOf?.(fullPath) ?? source.lineOf?.(fullPath.slice(0, -1));
  if (line !== undefined) loc.line = line;
  throw new InputError(message, loc);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_value':
      return `invalid value; expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_type':
      return issue.message.startsWith('Invalid input') ? `expected ${issue.expected}` : issue.message;
    case 'invalid_union':
      return issue.message === 'Invalid input' ? 'does not match any allowed form' : issue.message;
    default:
      return issue.message;
  }
}

/** `['targets', 0, 'temperature']` → `targets[0].temperature`. */
export function formatPath(p: (string | number | symbol)[]): string {
  let out = '';
  for (const part of p) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/** `targets[0].temperature` → `['targets', 0, 'temperature']` (the inverse of formatPath). */
export function parsePath(p: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of p.matchAll(/([^.[\]]+)|\[(\d+)\]/g))
    out.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string));
  return out;
}
