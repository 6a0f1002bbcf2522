import * as crypto from 'node:crypto';

/** Node >= 20.12 has a one-shot `crypto.hash` (no Hash object per call: about twice as fast on short input). */
const oneShot = (
  crypto as { hash?: (algorithm: string, data: string | Uint8Array, encoding: 'hex') => string }
).hash;

export function sha256(data: string | Uint8Array): string {
  return oneShot ? oneShot('sha256', data, 'hex') : crypto.createHash('sha256').update(data).digest('hex');
}

/**
 * JSON with object keys sorted, so equal values hash equally whatever their key order. Undefined object
 * members are left out, as JSON.stringify does. (Hand-written: a replacer function is ~3x slower, and this
 * runs for every request's cache key.)
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const obj = value as Record<string, unknown>;
  if (typeof (obj as { toJSON?: unknown }).toJSON === 'function')
    return canonicalJson(JSON.parse(JSON.stringify(obj)));
  const parts: string[] = [];
  for (const k of Object.keys(obj).sort()) {
    const v = obj[k];
    if (v === undefined || typeof v === 'function') continue;
    parts.push(`${JSON.stringify(k)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}

/** A short, stable id for a value: the first `len` hex digits of the sha256 of its canonical JSON. */
export function stableId(value: unknown, len = 16): string {
  return sha256(canonicalJson(value)).slice(0, len);
}
