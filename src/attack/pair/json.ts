import { scanObject } from '../../util/json-text.js';

/**
 * Pulls a JSON object out of a chatty model answer: code fences, prose before and after, raw newlines inside
 * strings and a missing closing brace are all common in attacker-model output. Model output is hostile
 * text, so this only ever parses, never evaluates.
 */

/** Every balanced `{...}` span in `text`, outermost first, in order of appearance (string-aware). */
export function objectSpans(text: string): string[] {
  const spans: string[] = [];
  let i = 0;
  while (i < text.length) {
    const start = text.indexOf('{', i);
    if (start < 0) break;
    const scan = scanObject(text, start);
    if (scan.end < 0) {
      // An unterminated object (the answer was cut off): offer the rest, closed, as a last candidate.
      spans.push(`${text.slice(start)}${scan.inString ? '"' : ''}${'}'.repeat(Math.max(scan.depth, 0))}`);
      break;
    }
    spans.push(text.slice(start, scan.end + 1));
    i = scan.end + 1;
  }
  return spans;
}

/** JSON.parse, then again with raw control characters inside strings escaped (models write real newlines). */
export function parseLenient(span: string): unknown {
  try {
    return JSON.parse(span);
  } catch {
    try {
      return JSON.parse(escapeControlsInStrings(span));
    } catch {
      return undefined;
    }
  }
}

function escapeControlsInStrings(s: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (inString) {
      if (c === '\\') {
        out += c + (s[i + 1] ?? '');
        i++;
        continue;
      }
      if (c === '"') inString = false;
      else if (c === '\n') {
        out += '\\n';
        continue;
      } else if (c === '\r') {
        out += '\\r';
        continue;
      } else if (c === '\t') {
        out += '\\t';
        continue;
      }
    } else if (c === '"') inString = true;
    out += c;
  }
  return out;
}

/** The first object in `text` for which `accept` returns a value (tried outermost-first, then nested ones). */
export function findJsonObject<T>(
  text: string,
  accept: (value: Record<string, unknown>) => T | undefined,
): T | undefined {
  const queue = objectSpans(text);
  const seen = new Set<string>();
  while (queue.length) {
    const span = queue.shift() as string;
    if (seen.has(span)) continue;
    seen.add(span);
    const value = parseLenient(span);
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const got = accept(value as Record<string, unknown>);
      if (got !== undefined) return got;
    }
    // A wrapper object or an unparseable span may still hold the object we want further in.
    queue.push(...objectSpans(span.slice(1)));
  }
  return undefined;
}

/** One PAIR attacker turn: how it read the last answer and its next prompt. */
export interface AttackerTurn {
  improvement: string;
  prompt: string;
}

/**
 * The attacker's `{"improvement": ..., "prompt": ...}`, or undefined when the answer holds none. `prefix` is
 * an assistant prefill the model continued from (upstream PAIR seeds `{"improvement": "`), joined first.
 */
export function parseAttackerTurn(answer: string, prefix = ''): AttackerTurn | undefined {
  const accept = (v: Record<string, unknown>): AttackerTurn | undefined => {
    const prompt = v['prompt'];
    const improvement = v['improvement'] ?? '';
    if (typeof prompt !== 'string' || !prompt.trim()) return undefined;
    if (typeof improvement !== 'string') return undefined;
    return { improvement, prompt };
  };
  return findJsonObject(prefix + answer, accept) ?? (prefix ? findJsonObject(answer, accept) : undefined);
}
