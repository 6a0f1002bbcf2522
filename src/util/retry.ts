/**
 * When and how long to retry an HTTP request: one policy for model APIs (target/http.ts) and pack downloads
 * (data/download.ts).
 */

/** Statuses worth retrying: rate limits, timeouts, conflicts, server errors, Anthropic's 529 "overloaded". */
export const RETRYABLE_STATUS: ReadonlySet<number> = new Set([
  408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529,
]);

/** The wait a server asked for: `retry-after-ms`, or `retry-after` in seconds or as an HTTP date. */
export function retryAfterMs(headers: Record<string, string | string[] | undefined>): number | undefined {
  const get = (k: string): string | undefined => {
    const v = headers[k];
    return Array.isArray(v) ? v[0] : v;
  };
  const ms = Number(get('retry-after-ms'));
  if (get('retry-after-ms') !== undefined && Number.isFinite(ms) && ms >= 0) return ms;
  const ra = get('retry-after')?.trim();
  if (ra) {
    const secs = Number(ra);
    if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
    const date = Date.parse(ra);
    if (!Number.isNaN(date)) return Math.max(0, date - Date.now());
  }
  return undefined;
}

/** Exponential backoff with full jitter: retry n (0-based) waits a random time in [0, base * 2^n], capped. */
export function backoffMs(retry: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, Math.random() * baseMs * 2 ** retry);
}

/** The wait before retry n: the server's Retry-After when it sent one (capped), else the backoff. */
export function retryDelayMs(retry: number, baseMs: number, maxMs: number, serverMs?: number): number {
  return serverMs !== undefined ? Math.min(serverMs, maxMs) : backoffMs(retry, baseMs, maxMs);
}
