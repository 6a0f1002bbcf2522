import type { IncomingHttpHeaders } from 'node:http';
import { Agent, errors as undiciErrors, type Dispatcher } from 'undici';
import { addSecret, clip, redact, redactUrl } from '../util/secrets.js';
import { RETRYABLE_STATUS, retryAfterMs, retryDelayMs } from '../util/retry.js';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { TargetError } from './target.js';

/**
 * JSON-over-HTTP for model APIs: one keep-alive connection pool per endpoint, per-attempt timeouts, retries
 * with exponential backoff and full jitter that honour Retry-After, and SSE streaming. Secrets passed in
 * `secrets` (and every secret registered in util/secrets.ts) are scrubbed from every error message, before
 * any cut: a server that echoes a key in a long error text never leaves part of it in the message.
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

/** How much of a non-JSON error body is read for its message. */
const MAX_SCANNED_BODY = 64 * 1024;

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, baseDelayMs: 1000, maxDelayMs: 60_000 };

export interface HttpOptions {
  /** From sending a request to its response headers (first byte). Undici starts it once the request is on a socket. */
  timeoutMs: number;
  /** TCP/TLS connect (default 10 s). */
  connectTimeoutMs?: number;
  /** Longest silence between body chunks (default 60 s): a stream making progress is never cut. */
  idleTimeoutMs?: number;
  /** Optional total time per attempt, however much progress the stream makes. */
  deadlineMs?: number;
  /** Longest total time spent retrying one request (default 120 s): a dead server fails in bounded time. */
  retryBudgetMs?: number;
  retry: RetryPolicy;
  connections: number;
  /** Values that must never appear in an error message (API keys). */
  secrets: string[];
  /** Called on every HTTP 429 answer (the model-call service halves the endpoint's concurrency). */
  onRateLimited?: () => void;
  /** Called before each retry with the wait chosen and why (for logs and tests). */
  onRetry?: (info: { attempt: number; delayMs: number; error: TargetError; fromRetryAfter: boolean }) => void;
}

export interface JsonResponse {
  body: unknown;
  attempts: number;
  latencyMs: number;
}

/**
 * The requests in flight under each caller signal, aborted together when it fires. Many requests in a row
 * use the same signal (a runner worker's), so each signal gets one listener, and a request joins and leaves
 * a Set rather than adding and removing an EventTarget listener of its own.
 */
const inFlight = new WeakMap<AbortSignal, Set<Exchange>>();

function inFlightUnder(signal: AbortSignal): Set<Exchange> {
  let set = inFlight.get(signal);
  if (!set) {
    const exchanges = new Set<Exchange>();
    signal.addEventListener('abort', () => {
      for (const e of exchanges) e.abort();
    });
    inFlight.set(signal, exchanges);
    set = exchanges;
  }
  return set;
}

export class HttpClient {
  private readonly agent: Agent;
  private rateLimitListeners: (() => void)[] = [];
  private readonly routes = new Map<string, { origin: string; path: string }>();

  constructor(private readonly opts: HttpOptions) {
    // Undici measures these from when the request is written to a socket, never while it waits in the
    // pool, so queueing for a slot never eats an attempt's time.
    this.agent = new Agent({
      connections: opts.connections,
      keepAliveTimeout: 30_000,
      connect: { timeout: opts.connectTimeoutMs ?? 10_000 },
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.idleTimeoutMs ?? 60_000,
    });
    if (opts.onRateLimited) this.rateLimitListeners.push(opts.onRateLimited);
    for (const s of opts.secrets) addSecret(s);
  }

  /** Registers a listener for HTTP 429 answers (the model-call service's adaptive concurrency). */
  onRateLimited(listener: () => void): void {
    this.rateLimitListeners.push(listener);
  }

  /**
   * POST a JSON body and parse a JSON answer, retrying transient failures. `check` runs inside the attempt
   * and may throw a 'protocol' TargetError for an answer that is not complete (retried, never returned).
   */
  async postJson(
    url: string,
    body: unknown,
    headers: Record<string, string>,
    signal?: AbortSignal,
    check?: (body: unknown) => void,
  ): Promise<JsonResponse> {
    const json = JSON.stringify(body);
    const r = await this.withRetries(signal, async (attemptSignal) => {
      const chunks: Buffer[] = [];
      await this.exchange(url, json, headers, attemptSignal, 'application/json', (c) => chunks.push(c));
      const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
      const value = this.parseJson(text, url);
      check?.(value);
      return value;
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
    signal: AbortSignal | undefined,
    /** Did the stream end as the protocol says a finished answer ends? (`sawDone`: a `[DONE]` line came.) */
    complete: (events: SseEvent[], sawDone: boolean) => boolean,
  ): Promise<{ events: SseEvent[]; attempts: number; latencyMs: number }> {
    const json = JSON.stringify(body);
    const r = await this.withRetries(signal, async (attemptSignal) => {
      const decoder = new TextDecoder();
      const events: SseEvent[] = [];
      let malformed = false;
      let sawDone = false;
      const parser = createParser({
        onEvent: (msg: EventSourceMessage) => {
          if (msg.data === '[DONE]') {
            sawDone = true;
            return;
          }
          try {
            events.push({ data: JSON.parse(msg.data) as unknown, event: msg.event });
          } catch {
            malformed = true;
          }
        },
      });
      await this.exchange(url, json, headers, attemptSignal, 'text/event-stream', (chunk) =>
        parser.feed(decoder.decode(chunk, { stream: true })),
      );
      if (malformed) throw new TargetError(`malformed SSE event from ${redactUrl(url)}`, 'protocol');
      // A stream cut before its end is a partial answer: an error, retried, never cached or judged.
      if (!complete(events, sawDone))
        throw new TargetError(
          `stream from ${redactUrl(url)} ended before the answer was complete`,
          'protocol',
        );
      return events;
    });
    return { events: r.value, attempts: r.attempts, latencyMs: r.latencyMs };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /**
   * One attempt: POSTs `body` and hands each chunk of a 2xx answer's body to `onChunk` as it arrives;
   * resolves when the answer has ended. Any other status rejects with HttpStatusError (its body is the
   * detail). A dispatch handler rather than undici's `request()`: no URL parse, body stream or promise per
   * chunk, which is about a quarter of a bare loop's CPU per request.
   */
  private exchange(
    url: string,
    body: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    accept: string,
    onChunk: (chunk: Buffer) => void,
  ): Promise<void> {
    const { origin, path } = this.route(url);
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(new undiciErrors.RequestAbortedError());
      const group = signal && inFlightUnder(signal);
      const exchange = new Exchange(onChunk, resolve, reject, group, this.statusError);
      try {
        this.agent.dispatch(
          {
            origin,
            path,
            method: 'POST',
            headers: { 'content-type': 'application/json', accept, ...headers },
            body,
          },
          exchange,
        );
      } catch (err) {
        exchange.onResponseError(undefined, err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** A non-2xx answer as the error its attempt fails with (a 429 also tells the rate-limit listeners). */
  private readonly statusError = (status: number, text: string, h: IncomingHttpHeaders): Error => {
    if (status === 429) for (const l of this.rateLimitListeners) l();
    return new HttpStatusError(status, serverMessage(text), retryAfterMs(h));
  };

  /** A URL's origin and path, parsed once per URL (an endpoint sends to one or two). */
  private route(url: string): { origin: string; path: string } {
    let r = this.routes.get(url);
    if (!r) {
      const u = new URL(url);
      if (u.protocol !== 'http:' && u.protocol !== 'https:')
        throw new TargetError(`${redactUrl(url)}: only http and https URLs are supported`, 'config');
      r = { origin: u.origin, path: `${u.pathname}${u.search}` };
      this.routes.set(url, r);
    }
    return r;
  }

  private parseJson(text: string, url: string): unknown {
    try {
      return JSON.parse(text);
    } catch {
      throw new TargetError(`malformed JSON from ${redactUrl(url)}: ${clip(text, 80)}`, 'protocol');
    }
  }

  /** Runs one attempt per try with its own timeout; returns the value and attempt statistics. */
  private async withRetries<T>(
    signal: AbortSignal | undefined,
    attempt: (signal: AbortSignal | undefined) => Promise<T>,
  ): Promise<{ value: T; attempts: number; latencyMs: number }> {
    const { retry, deadlineMs } = this.opts;
    const budgetMs = this.opts.retryBudgetMs ?? 120_000;
    const first = performance.now();
    for (let n = 0; ; n++) {
      if (signal?.aborted) throw new TargetError('aborted', 'aborted', undefined, n);
      // Connect, first-byte and idle timeouts are undici's. Only an optional total deadline needs a timer
      // and a controller of our own; without one the caller's signal goes straight through.
      let attemptSignal = signal;
      let timer: NodeJS.Timeout | undefined;
      let onAbort: (() => void) | undefined;
      let timedOut = false;
      if (deadlineMs !== undefined) {
        const c = new AbortController();
        timer = setTimeout(() => {
          timedOut = true;
          c.abort();
        }, deadlineMs);
        onAbort = (): void => c.abort();
        signal?.addEventListener('abort', onAbort, { once: true });
        attemptSignal = c.signal;
      }
      const started = performance.now();
      try {
        const value = await attempt(attemptSignal);
        return { value, attempts: n + 1, latencyMs: performance.now() - started };
      } catch (err) {
        const failure = this.classify(err, signal, timedOut, deadlineMs ?? 0, n + 1);
        if (!failure.retryable || n >= retry.retries) throw failure.error;
        const delayMs = retryDelayMs(n, retry.baseDelayMs, retry.maxDelayMs, failure.retryAfterMs);
        if (performance.now() - first + delayMs > budgetMs) {
          throw new TargetError(
            `${failure.error.message} (gave up after ${n + 1} attempts: retry budget of ${budgetMs / 1000} s spent)`,
            failure.error.kind,
            failure.error.status,
            n + 1,
          );
        }
        this.opts.onRetry?.({
          attempt: n + 1,
          delayMs,
          error: failure.error,
          fromRetryAfter: failure.retryAfterMs !== undefined,
        });
        await sleep(delayMs, signal);
      } finally {
        if (timer) clearTimeout(timer);
        if (onAbort) signal?.removeEventListener('abort', onAbort);
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
        error: new TargetError(msg, 'http', err.status, attempts, err.retryAfterMs),
        retryable: RETRYABLE_STATUS.has(err.status),
        retryAfterMs: err.retryAfterMs,
      };
    }
    if (timedOut) {
      return {
        error: new TargetError(
          `attempt deadline of ${timeoutMs / 1000} s passed`,
          'timeout',
          undefined,
          attempts,
        ),
        retryable: true,
      };
    }
    const timeout = undiciTimeout(err, this.opts);
    if (timeout) return { error: new TargetError(timeout, 'timeout', undefined, attempts), retryable: true };
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

  /** Every registered secret (this client's among them, see the constructor) redacted. */
  private scrub(text: string): string {
    return redact(text);
  }
}

/** Undici's own timeouts, in words: which one fired and its limit. */
function undiciTimeout(err: unknown, opts: HttpOptions): string | undefined {
  const code =
    (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code ?? undefined;
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return `no answer within ${opts.timeoutMs / 1000} s of sending`;
  if (code === 'UND_ERR_BODY_TIMEOUT')
    return `the answer stalled: nothing for ${(opts.idleTimeoutMs ?? 60_000) / 1000} s between chunks`;
  if (code === 'UND_ERR_CONNECT_TIMEOUT')
    return `no connection within ${(opts.connectTimeoutMs ?? 10_000) / 1000} s`;
  return undefined;
}

/**
 * One request's undici dispatch handler: hands a 2xx body to `onChunk` chunk by chunk, collects any other
 * answer's body for `statusError`, and aborts the request when the caller's signal fires. Methods on a class,
 * not closures: one object per request.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private status = 0;
  private headers: IncomingHttpHeaders = {};
  private errorBody: Buffer[] | undefined;
  private controller: Dispatcher.DispatchController | undefined;
  private abortReason: Error | undefined;
  private settled = false;

  constructor(
    private readonly onChunk: (chunk: Buffer) => void,
    private readonly resolve: () => void,
    private readonly reject: (err: Error) => void,
    private readonly group: Set<Exchange> | undefined,
    private readonly statusError: (status: number, body: string, headers: IncomingHttpHeaders) => Error,
  ) {
    group?.add(this);
  }

  /** The caller's signal fired. */
  abort(): void {
    this.abortReason = new undiciErrors.RequestAbortedError();
    // Before the request is on a socket there is no controller yet: onRequestStart aborts it then.
    this.controller?.abort(this.abortReason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason) controller.abort(this.abortReason);
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    this.status = status;
    this.headers = headers;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.status < 200 || this.status >= 300) {
      (this.errorBody ??= []).push(chunk);
      return;
    }
    try {
      this.onChunk(chunk);
    } catch (err) {
      controller.abort(err instanceof Error ? err : new Error(String(err)));
    }
  }

  onResponseEnd(): void {
    if (this.status >= 200 && this.status < 300) return this.finish();
    const text = this.errorBody ? Buffer.concat(this.errorBody).toString('utf8') : '';
    this.finish(this.statusError(this.status, text, this.headers));
  }

  onResponseError(_c: Dispatcher.DispatchController | undefined, err: Error): void {
    this.finish(err);
  }

  private finish(err?: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.group?.delete(this);
    if (err) this.reject(err);
    else this.resolve();
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

/**
 * The error text servers put in OpenAI/Anthropic-style error bodies, else the start of the body: redacted
 * whole, then cut (`clip`), so a secret the server echoed never straddles the cut.
 */
function serverMessage(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const m = typeof j.error === 'string' ? j.error : (j.error?.message ?? j.message);
    if (typeof m === 'string') return clip(m, 300);
  } catch {
    /* not JSON */
  }
  // A bounded start of a large body; `redact` also replaces a piece of a key this first cut leaves at its end.
  return clip(redact(text.slice(0, MAX_SCANNED_BODY)).replace(/\s+/g, ' ').trim(), 200);
}

/** Retry-After (seconds or HTTP date) and the `retry-after-ms` / `x-ratelimit-reset-*` conventions. */

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
