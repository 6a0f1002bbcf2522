import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseWith } from '../config/validate.js';
import { InputError, type SourceLocation } from '../errors.js';
import { packFile } from '../data/packs.js';
import type { Prompt } from '../types.js';

/**
 * What the standard judges (HarmBench, JailbreakBench, WildGuard, StrongREJECT) share: reading their
 * prompt JSON from a data pack, filling upstream's Python `str.format` fields byte for byte, and finding
 * verdict markers in a judge's answer without being fooled by lines it copied from the judged response.
 */

export function readPackJson<T>(pack: string, file: string, schema: z.ZodType<T>, dataDir: string): T {
  const abs = packFile(pack, file, dataDir);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(abs, 'utf8'));
  } catch (err) {
    throw new InputError(`not valid JSON: ${String(err)}`, { file: abs });
  }
  return parseWith(schema, parsed, [], { file: abs });
}

/**
 * Python's `template.format(**values)` for `{name}` fields: each field replaced once, values never
 * re-expanded, `{{` and `}}` read as literal braces, a lone `{` or `}` an error (Python's ValueError), a
 * field with no value an error (KeyError). Positional, attribute, index, conversion and format-spec fields
 * are rejected: no template here uses them, and filling them differently from Python would not be exact.
 */
export function pyFormat(
  template: string,
  values: Record<string, string>,
  where: SourceLocation = {},
): string {
  return template.replace(/\{\{|\}\}|\{([^{}]*)\}|[{}]/g, (whole, field: string | undefined) => {
    if (whole === '{{') return '{';
    if (whole === '}}') return '}';
    if (field === undefined)
      throw new InputError(`single '${whole}' in the template (Python: ValueError)`, where);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(field))
      throw new InputError(`template field {${field}} is not a plain {name} field`, where);
    const v = values[field];
    if (v === undefined) throw new InputError(`template field {${field}} has no value`, where);
    return v;
  });
}

/**
 * A classifier input that is already in its model's own turn format goes as raw text to a completions
 * endpoint (`completion`, upstream's way); `chat` sends it as one user message for chat-only servers.
 */
export function classifierPrompt(text: string, delivery: 'completion' | 'chat' = 'completion'): Prompt {
  return delivery === 'chat'
    ? { kind: 'chat', messages: [{ role: 'user', content: text }] }
    : { kind: 'completion', text };
}

/**
 * Every match of `pattern` in the judge's answer, except those on a line that appears verbatim in the
 * judged text (a response that contains "1.b 0" must not answer for the judge).
 */
export function genuineMatches(output: string, pattern: RegExp, judged: string): RegExpMatchArray[] {
  const flags = pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`;
  const judgedLines = new Set(
    judged
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean),
  );
  const out: RegExpMatchArray[] = [];
  for (const m of output.matchAll(new RegExp(pattern.source, flags))) {
    const start = output.lastIndexOf('\n', m.index) + 1;
    const nl = output.indexOf('\n', m.index + m[0].length);
    const line = output.slice(start, nl < 0 ? output.length : nl).trim();
    if (line !== '' && judgedLines.has(line)) continue;
    out.push(m);
  }
  return out;
}
