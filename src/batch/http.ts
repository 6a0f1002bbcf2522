import { randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { RETRYABLE_STATUS, retryAfterMs, retryDelayMs } from '../util/retry.js';
import { clip, redact, redactUrl } from '../util/secrets.js';
import { TargetError } from '../target/target.js';
import type { RetryPolicy } from '../target/http.js';

/**
 * The few HTTP calls of a provider batch API (upload a file, create, retrieve, download results): GET and
 * POST with JSON or multipart bodies, retried on 429/5xx and network errors with backoff that honours
 * Retry-After. A request that creates something (a file, a batch) is retried only when the server refused it
 * (429/503 and the like), never after a network error, so one batch is never submitted twice. Every error
 * message is redacted (keys, header values, URL credentials) before it leaves.
 */

export interface BatchHttpOptions {
  /** Headers of every request (authorization, API version): never part of an error. */
  headers: Record<string, string>;
  /** Time to the response headers of one attempt. */
  timeoutMs: number;
  retry: RetryPolicy;
  /** Longest total time spent retrying one call. */
  retryBudgetMs: number;
}

export type Body =
  | { json: unknown }
  | { multipart: { fields: Record<string, string>; file: { name: string; type: string; data: Buffer } } };

export class BatchHttp {
  private readonly agent: Agent;

  constructor(private readonly opts: BatchHttpOptions) {
    this.agent = new Agent({
      connections: 4,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: Math.max(opts.timeoutMs, 300_000),
      keepAliveTimeout: 10_000,
    });
  }

  /** GET or POST a JSON answer. `creates`: the call makes a resource (never retried after a network error). */
  async json(
    method: 'GET' | 'POST',
    url: string,
    body?: Body,
    opts: { signal?: AbortSignal; creates?: boolean } = {},
  ): Promise<unknown> {
    const text = await this.send(method, url, body, opts);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new TargetError(`malformed JSON from ${redactUrl(url)}: ${clip(redact(text), 80)}`, 'protocol');
    }
  }

  /** GET a text body (a batch's output file, its results JSONL). */
  text(url: string, signal?: AbortSignal): Promise<string> {
    return this.send('GET', url, undefined, { signal });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async send(
    method: 'GET' | 'POST',
    url: string,
    body: Body | undefined,
    opts: { signal?: AbortSignal; creates?: boolean },
  ): Promise<string> {
    const encoded = body === undefined ? undefined : encode(body);
    const started = performance.now();
    const { retry } = this.opts;
    for (let n = 0; ; n++) {
      if (opts.signal?.aborted) throw new TargetError('aborted', 'aborted', undefined, n);
      let failure: { error: TargetError; retryable: boolean; waitMs?: number };
      try {
        const res = await request(url, {
          method,
          dispatcher: this.agent,
          headers: {
            ...this.opts.headers,
            accept: 'application/json',
            ...(encoded ? { 'content-type': encoded.type } : {}),
          },
          ...(encoded ? { body: encoded.data } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
        const text = await res.body.text();
        if (res.statusCode >= 200 && res.statusCode < 300) return text;
        const status = res.statusCode;
        failure = {
          error: new TargetError(
            `${method} ${redactUrl(url)}: HTTP ${status}${detail(text)}`,
            'http',
            status,
            n + 1,
          ),
          retryable: RETRYABLE_STATUS.has(status),
          waitMs: retryAfterMs(res.headers),
        };
      } catch (err) {
        if (opts.signal?.aborted) throw new TargetError('aborted', 'aborted', undefined, n + 1);
        const code = (err as { code?: string }).code ?? '';
        const message = redact(`${code} ${err instanceof Error ? err.message : String(err)}`.trim());
        failure = {
          error: new TargetError(`${method} ${redactUrl(url)}: ${message}`, 'network', undefined, n + 1),
          // A request that creates a resource may have reached the server: never sent twice.
          retryable: opts.creates !== true,
        };
      }
      if (!failure.retryable || n >= retry.retries) throw failure.error;
      const waitMs = retryDelayMs(n, retry.baseDelayMs, retry.maxDelayMs, failure.waitMs);
      if (performance.now() - started + waitMs > this.opts.retryBudgetMs) throw failure.error;
      await sleep(waitMs, opts.signal);
    }
  }
}

/** The error text of an OpenAI- or Anthropic-style error body, redacted, then cut. */
function detail(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const m = typeof j.error === 'string' ? j.error : (j.error?.message ?? j.message);
    if (typeof m === 'string') return `: ${clip(redact(m), 300)}`;
  } catch {
    /* not JSON */
  }
  const t = clip(redact(text.slice(0, 4096)).replace(/\s+/g, ' ').trim(), 200);
  return t ? `: ${t}` : '';
}

function encode(body: Body): { type: string; data: Buffer } {
  if ('json' in body) return { type: 'application/json', data: Buffer.from(JSON.stringify(body.json)) };
  const boundary = `----refusenik${randomBytes(12).toString('hex')}`;
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(body.multipart.fields)) {
    parts.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
    );
  }
  const f = body.multipart.file;
  parts.push(
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${f.name}"\r\n` +
        `Content-Type: ${f.type}\r\n\r\n`,
    ),
    f.data,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  );
  return { type: `multipart/form-data; boundary=${boundary}`, data: Buffer.concat(parts) };
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new TargetError('aborted', 'aborted'));
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new TargetError('aborted', 'aborted'));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
