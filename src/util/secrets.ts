/**
 * One redaction mechanism for the whole process: every API key and header value is registered here when
 * its target is built, and every text that leaves the process's memory for the user or the disk (the run
 * store, error messages, reports) goes through `redact`. Secrets shorter than 4 characters are not
 * registered: replacing them would shred ordinary text and they protect nothing.
 */

const MIN_LENGTH = 4;
const secrets = new Set<string>();
let ordered: string[] = [];

export const REDACTED = '[redacted]';

export function addSecret(value: string | undefined): void {
  if (value === undefined || value.length < MIN_LENGTH || secrets.has(value)) return;
  secrets.add(value);
  // Longest first, so a secret that contains another is replaced whole.
  ordered = [...secrets].sort((a, b) => b.length - a.length);
}

/** The text with every registered secret replaced by `[redacted]`. Free when no secret is registered. */
export function redact(text: string): string;
export function redact(text: string | null): string | null;
export function redact(text: string | null): string | null {
  if (text === null || ordered.length === 0) return text;
  let out = text;
  for (const s of ordered) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

/** Every string inside a JSON-like value, redacted. */
export function redactDeep<T>(value: T): T {
  if (ordered.length === 0) return value;
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = redactDeep(v);
    return out as T;
  }
  return value;
}

export function hasSecrets(): boolean {
  return ordered.length > 0;
}

/** For tests: forget every registered secret. */
export function clearSecrets(): void {
  secrets.clear();
  ordered = [];
}

/**
 * A config as the run store keeps it: every literal header value replaced (they are credentials as often
 * as not, and a header's name says nothing about it), then every registered secret redacted.
 */
export function redactConfig<T>(config: T): T {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        out[k] =
          k === 'headers' && x && typeof x === 'object' && !Array.isArray(x)
            ? Object.fromEntries(Object.keys(x).map((h) => [h, REDACTED]))
            : walk(x);
      }
      return out;
    }
    return v;
  };
  return redactDeep(walk(config) as T);
}

/** Whether a stored config lost literal header values to redaction (it cannot be resumed from the store). */
export function hasRedactedHeaders(config: unknown): boolean {
  if (Array.isArray(config)) return config.some(hasRedactedHeaders);
  if (config && typeof config === 'object') {
    return Object.entries(config as Record<string, unknown>).some(([k, v]) =>
      k === 'headers' && v && typeof v === 'object'
        ? Object.values(v).includes(REDACTED)
        : hasRedactedHeaders(v),
    );
  }
  return false;
}
