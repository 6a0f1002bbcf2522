import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { EnvHttpProxyAgent, interceptors, request, type Dispatcher } from 'undici';
import { errorMessage } from '../errors.js';
import { packageVersion } from '../version.js';
import { RETRYABLE_STATUS, retryAfterMs, retryDelayMs } from '../util/retry.js';

/**
 * HTTP GET of pack files: per-attempt timeouts (for the headers, and between body chunks), retries with
 * exponential backoff and jitter on timeouts, resets and 408/429/5xx (honouring Retry-After), redirects,
 * HTTP(S)_PROXY/NO_PROXY, and a size cap so a wrong URL cannot fill the disk. Bodies are hashed as they
 * stream, to a file or to memory.
 */

export interface FetchOptions {
  /** Per attempt: time to the response headers, and the longest pause between body chunks. */
  timeoutMs: number;
  /** Attempts after the first. */
  retries: number;
  /** Backoff base: retry n waits a random time up to base * 2^n (full jitter), at most 30 s. */
  retryDelayMs: number;
  /** Called with each chunk's size as it arrives (negative to take back a failed attempt's bytes). */
  onBytes?: (delta: number) => void;
}

export interface Fetched {
  sha256: string;
  bytes: number;
}

export class FetchError extends Error {
  constructor(
    message: string,
    readonly url: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'FetchError';
  }
}

const MAX_DELAY_MS = 30_000;

/** Where the body goes; reset at the start of every attempt. */
interface Sink {
  reset(): Promise<void>;
  write(chunk: Buffer): Promise<void>;
  finish(): Promise<void>;
}

export class Downloader {
  private readonly dispatcher: Dispatcher;

  constructor(private readonly opts: FetchOptions) {
    this.dispatcher = new EnvHttpProxyAgent({
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      connections: 8,
    }).compose(interceptors.redirect({ maxRedirections: 5 }));
  }

  /** Streams `url` into `file` (created or truncated; the caller renames or removes it). */
  async toFile(url: string, file: string, maxBytes: number): Promise<Fetched> {
    let handle: Awaited<ReturnType<typeof open>> | undefined;
    const sink: Sink = {
      reset: async () => {
        await handle?.close();
        handle = await open(file, 'w');
      },
      write: async (chunk) => {
        await handle!.write(chunk);
      },
      finish: async () => {
        await handle!.sync(); // the rename that follows must not expose a file whose data is not on disk
      },
    };
    try {
      return await this.fetch(url, maxBytes, sink);
    } finally {
      await handle?.close();
    }
  }

  /** Fetches `url` into memory. */
  async toBuffer(url: string, maxBytes: number): Promise<Fetched & { data: Buffer }> {
    let chunks: Buffer[] = [];
    const sink: Sink = {
      reset: async () => {
        chunks = [];
      },
      write: async (chunk) => {
        chunks.push(chunk);
      },
      finish: async () => {},
    };
    const got = await this.fetch(url, maxBytes, sink);
    return { ...got, data: Buffer.concat(chunks) };
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private async fetch(url: string, maxBytes: number, sink: Sink): Promise<Fetched> {
    for (let attempt = 0; ; attempt++) {
      let received = 0;
      await sink.reset();
      try {
        const got = await this.attempt(url, maxBytes, sink, (n) => {
          received += n;
          this.opts.onBytes?.(n);
        });
        await localIo(sink.finish());
        return got;
      } catch (err) {
        if (received) this.opts.onBytes?.(-received);
        if (err instanceof LocalIoError) throw err.cause; // a full disk is not worth retrying
        const failure =
          err instanceof FetchError
            ? err
            : new FetchError(networkMessage(err), url, true /* resets, timeouts */);
        if (!failure.retryable || attempt >= this.opts.retries) {
          const tries = attempt + 1;
          if (tries === 1) throw failure;
          throw new FetchError(`${failure.message} (after ${tries} attempts)`, url, false, failure.status);
        }
        const delay = retryDelayMs(attempt, this.opts.retryDelayMs, MAX_DELAY_MS, failure.retryAfterMs);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private async attempt(
    url: string,
    maxBytes: number,
    sink: Sink,
    count: (n: number) => void,
  ): Promise<Fetched> {
    const res = await request(url, {
      dispatcher: this.dispatcher,
      method: 'GET',
      headers: { 'user-agent': `refusenik/${packageVersion()}`, accept: '*/*' },
    });
    if (res.statusCode !== 200) {
      await res.body.dump();
      const status = res.statusCode;
      const retryAfter = retryAfterMs(res.headers);
      throw new FetchError(`HTTP ${status}`, url, RETRYABLE_STATUS.has(status), status, retryAfter);
    }
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        res.body.destroy();
        throw new FetchError(`response is larger than the expected ${maxBytes} bytes`, url, false);
      }
      hash.update(chunk);
      await localIo(sink.write(chunk));
      count(chunk.length);
    }
    return { sha256: hash.digest('hex'), bytes };
  }
}

class LocalIoError extends Error {}

/** Marks a file-system failure so it is not mistaken for a network one. */
async function localIo(op: Promise<void>): Promise<void> {
  try {
    await op;
  } catch (err) {
    throw new LocalIoError(errorMessage(err), { cause: err });
  }
}

/** A short, readable cause for network-level failures (undici's codes say what happened). */
function networkMessage(err: unknown): string {
  const code = (err as { code?: string }).code;
  const known: Record<string, string> = {
    UND_ERR_HEADERS_TIMEOUT: 'timed out waiting for the response',
    UND_ERR_BODY_TIMEOUT: 'timed out while receiving the body',
    UND_ERR_SOCKET: 'connection closed by the server',
    ECONNRESET: 'connection reset',
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host not found',
    ETIMEDOUT: 'connection timed out',
  };
  return (code && known[code]) ?? errorMessage(err);
}
