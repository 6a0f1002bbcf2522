import { Agent, request, errors as undiciErrors, type Dispatcher } from 'undici';
import { redact } from '../util/secrets.js';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { TargetError } from './target.js';

/**
 * JSON-over-HTTP for model APIs: one keep-alive connection pool per endpoint, per-attempt timeouts, retries
 * with exponential backoff and full jitter that honour Retry-After, and SSE streaming. Secrets passed in
 * `secrets` are scrubbed from every error message.
 */

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** Backoff base in ms: attempt n waits a random time in [0, base * 2^n], capped at maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface SseEvent {
  data: unknown;
  event: string | undefined;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, baseDelayMs: 1000, maxDelayMs: 60_000 };

export interface HttpOptions {
  timeoutMs: number;
  retry: RetryPolicy;
  connections: number;
  /** Values that must never appear in an error message (API keys). */
  secrets: string[];
  /** Called before each retry with the wait chosen and why (for logs and tests). */
  onRetry?: (info: { attempt: number; delayMs: number; error: TargetError; fromRetryAfter: boolean }) => void;
}

export interface JsonResponse {
  body: unknown;
  attempts: number;
  latencyMs: number;
}

/** Statuses worth retrying: rate limits, timeouts, conflicts, server errors, Anthropic's 529 "overloaded". */
const RETRY_STATUS = new Set([408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529]);

export class HttpClient {
  private readonly agent: Agent;

  constructor(private readonly opts: HttpOptions) {
    this.agent = new Agent({
      connections: opts.connections,
      keepAliveTimeout: 30_000,
      // Timeouts are ours (per attempt, via AbortSignal); undici's defaults would cut long generations.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  /** POST a JSON body and parse a JSON answer, retrying transient failures. */
  async postJson(
    url: string,
    body: unknown,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<JsonResponse> {
    const r = await this.withRetries(signal, async (attemptSignal) => {
      const res = await this.send(url, body, headers, attemptSignal, 'application/json');
      const text = await res.body.text();
      return { value: this.parseJson(text, url), status: res.statusCode };
    });
    return { body: r.value, attempts: r.attempts, latencyMs: r.latencyMs };
  }

  /**
   * POST with `stream: true` and read Server-Sent Events. Resolves with every parsed JSON event of the
   * successful attempt (a retried attempt's partial events are dropped, so nothing is counted twice).
   */
  async postSse(
    url: string,
    body: unknown,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<{ events: SseEvent[]; attempts: number; latencyMs: number }> {
    const r = await this.withRetries(signal, async (attemptSignal) => {
      const res = await this.send(url, body, headers, attemptSignal, 'text/event-stream');
      const events: SseEvent[] = [];
      let malformed = false;
      const parser = createParser({
        onEvent: (msg: EventSourceMessage) => {
          if (msg.data === '[DONE]') return;
          try {
            events.push({ data: JSON.parse(msg.data) as unknown, event: msg.event });
          } catch {
            malformed = true;
          }
        },
      });
      const decoder = new TextDecoder();
      for await (const chunk of res.body) parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
      if (malformed) throw new TargetError(`malformed SSE event from ${url}`, 'protocol');
      return { value: events, status: res.statusCode };
    });
    return { events: r.value, attempts: r.attempts, latencyMs: r.latencyMs };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async send(
    url: string,
    body: unknown,
    headers: Record<string, string>,
    signal: AbortSignal,
    accept: string,
  ): Promise<Dispatcher.ResponseData> {
    const res = await request(url, {
      method: 'POST',
      dispatcher: this.agent,
      headers: { 'content-type': 'application/json', accept, ...headers },
      body: JSON.stringify(body),
      signal,
    });
    if (res.statusCode >= 200 && res.statusCode < 300) return res;
    const text = await res.body.text().catch(() => '');
    throw new HttpStatusError(res.statusCode, this.scrub(serverMessage(text)), retryAfterMs(res.headers));
  }

  private parseJson(text: string, url: string): unknown {
    try {
      return JSON.parse(text);
    } catch {
      throw new TargetError(`malformed JSON from ${url}: ${this.scrub(text.slice(0, 80))}`, 'protocol');
    }
  }

  /** Runs one attempt per try with its own timeout; returns the value and attempt statistics. */
  private async withRetries<T>(
    signal: AbortSignal | undefined,
    attempt: (signal: AbortSignal) => Promise<{ value: T; status: number }>,
  ): Promise<{ value: T; attempts: number; latencyMs: number }> {
    const { retry, timeoutMs } = this.opts;
    for (let n = 0; ; n++) {
      if (signal?.aborted) throw new TargetError('aborted', 'aborted', undefined, n);
      // One controller per attempt, aborted by our timeout or the caller's signal. (AbortSignal.any and
      // AbortSignal.timeout cost more per request and, on Node 20, keep dependent signals alive.)
      const attemptController = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        attemptController.abort();
      }, timeoutMs);
      const onAbort = (): void => attemptController.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      const started = performance.now();
      try {
        const { value } = await attempt(attemptController.signal);
        return { value, attempts: n + 1, latencyMs: performance.now() - started };
      } catch (err) {
        const failure = this.classify(err, signal, timedOut, timeoutMs, n + 1);
        if (!failure.retryable || n >= retry.retries) throw failure.error;
        const backoff = Math.min(retry.maxDelayMs, Math.random() * retry.baseDelayMs * 2 ** n);
        const delayMs =
          failure.retryAfterMs !== undefined ? Math.min(failure.retryAfterMs, retry.maxDelayMs) : backoff;
        this.opts.onRetry?.({
          attempt: n + 1,
          delayMs,
          error: failure.error,
          fromRetryAfter: failure.retryAfterMs !== undefined,
        });
        await sleep(delayMs, signal);
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      }
    }
  }

  private classify(
    err: unknown,
    signal: AbortSignal | undefined,
    timedOut: boolean,
    timeoutMs: number,
    attempts: number,
  ): { error: TargetError; retryable: boolean; retryAfterMs?: number } {
    if (signal?.aborted)
      return { error: new TargetError('aborted', 'aborted', undefined, attempts), retryable: false };
    if (err instanceof HttpStatusError) {
      const msg = `HTTP ${err.status}${err.detail ? `: ${err.detail}` : ''}`;
      return {
        error: new TargetError(msg, 'http', err.status, attempts),
        retryable: RETRY_STATUS.has(err.status),
        retryAfterMs: err.retryAfterMs,
      };
    }
    if (timedOut) {
      return {
        error: new TargetError(`no answer within ${timeoutMs / 1000} s`, 'timeout', undefined, attempts),
        retryable: true,
      };
    }
    if (err instanceof TargetError) {
      return {
        error: new TargetError(err.message, err.kind, err.status, attempts),
        retryable: err.kind === 'protocol',
      };
    }
    const code =
      (err as { code?: string; cause?: { code?: string } }).code ??
      (err as { cause?: { code?: string } }).cause?.code;
    const message = this.scrub(
      err instanceof undiciErrors.UndiciError || err instanceof Error
        ? `${code ?? ''} ${err.message}`.trim()
        : String(err),
    );
    return { error: new TargetError(message, 'network', undefined, attempts), retryable: true };
  }

  private scrub(text: string): string {
    let out = text;
    for (const s of this.opts.secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
    return redact(out);
  }
}

class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super(`HTTP ${status}`);
  }
}

/** The error text servers put in OpenAI/Anthropic-style error bodies, else the start of the body. */
function serverMessage(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const m = typeof j.error === 'string' ? j.error : (j.error?.message ?? j.message);
    if (typeof m === 'string') return m.slice(0, 300);
  } catch {
    /* not JSON */
  }
  return text.slice(0, 200).replace(/\s+/g, ' ').trim();
}

/** Retry-After (seconds or HTTP date) and the `retry-after-ms` / `x-ratelimit-reset-*` conventions. */
export function retryAfterMs(headers: Record<string, string | string[] | undefined>): number | undefined {
  const get = (k: string): string | undefined => {
    const v = headers[k];
    return Array.isArray(v) ? v[0] : v;
  };
  const ms = Number(get('retry-after-ms'));
  if (get('retry-after-ms') !== undefined && Number.isFinite(ms) && ms >= 0) return ms;
  const ra = get('retry-after');
  if (ra !== undefined) {
    const secs = Number(ra);
    if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
    const date = Date.parse(ra);
    if (!Number.isNaN(date)) return Math.max(0, date - Date.now());
  }
  return undefined;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new TargetError('aborted', 'aborted'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new TargetError('aborted', 'aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
