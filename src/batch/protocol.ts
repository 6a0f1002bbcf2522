import type { Generation, Prompt } from '../types.js';
import { RETRYABLE_STATUS } from '../util/retry.js';
import { clip, redact } from '../util/secrets.js';
import { AnthropicTarget, fromMessage } from '../target/anthropic.js';
import type { Endpoint, HttpTarget } from '../target/endpoint.js';
import { OpenAITarget, answerFromBody } from '../target/openai.js';
import { TargetError, type GenerateOptions } from '../target/target.js';
import { BatchHttp } from './http.js';

/**
 * The two provider batch APIs behind one shape. OpenAI (and OpenAI-compatible servers): the requests go in a
 * JSONL file uploaded to `POST /v1/files` (purpose `batch`), `POST /v1/batches` creates the batch
 * (completion_window 24h), `GET /v1/batches/{id}` reports validating / in_progress / finalizing / completed
 * (or expired, cancelling, cancelled, failed), and the answers are in its output file and the failures in its
 * error file (`GET /v1/files/{id}/content`). Anthropic: `POST /v1/messages/batches` takes the requests
 * inline, `GET /v1/messages/batches/{id}` reports processing_status in_progress / canceling / ended, and
 * `results_url` serves one JSONL line per request: succeeded, errored, canceled or expired.
 *
 * Each request's body is exactly what the live target sends (its `request()`), and each answer is read by
 * the live target's own parser, so a batch answer is checked like a live one.
 */

/** One request of a batch: its custom id (its response-cache key) and body. */
export interface BatchItem {
  customId: string;
  body: Record<string, unknown>;
}

/** What a provider says about a batch. */
export interface RemoteBatch {
  id: string;
  /** The provider's status word. */
  status: string;
  /** No more answers will come: read the results. */
  ended: boolean;
  /** Why the whole batch failed (OpenAI `failed`: the input did not validate), when it did. */
  error?: string;
  /** OpenAI: the files holding answers and failures. */
  outputFileId?: string | null;
  errorFileId?: string | null;
  /** Anthropic: where the results JSONL is. */
  resultsUrl?: string | null;
}

/** One request's outcome: its answer, or an error and whether sending it again (in a new batch) may help. */
export type ItemResult =
  { ok: true; generation: Generation } | { ok: false; retry: boolean; error: TargetError };

export interface BatchProtocol {
  readonly provider: 'openai' | 'anthropic';
  /** The provider's limits on one batch. */
  readonly maxRequests: number;
  readonly maxBytes: number;
  /** The API path a prompt's request goes to and its body (the live target's). */
  request(prompt: Prompt, opts: GenerateOptions): { path: string; body: Record<string, unknown> };
  /** Bytes one request adds to its batch (its line of the input file). */
  size(path: string, item: BatchItem): number;
  submit(
    path: string,
    items: BatchItem[],
    signal?: AbortSignal,
  ): Promise<{ id: string; status: string; inputFileId: string | null }>;
  retrieve(id: string, signal?: AbortSignal): Promise<RemoteBatch>;
  /** The outcome of every request the ended batch reports, by custom id. */
  results(batch: RemoteBatch, path: string, signal?: AbortSignal): Promise<Map<string, ItemResult>>;
  close(): Promise<void>;
}

/** OpenAI's limits: 50,000 requests and 200 MB per input file (a little kept back for the file's framing). */
const OPENAI_MAX_REQUESTS = 50_000;
const OPENAI_MAX_BYTES = 200 * 1000 * 1000 - 64 * 1024;
/** Anthropic's limits: 100,000 requests or 256 MB per batch. */
const ANTHROPIC_MAX_REQUESTS = 100_000;
const ANTHROPIC_MAX_BYTES = 256 * 1000 * 1000 - 64 * 1024;

/** Error codes in an OpenAI error file that mean "not run", not "this request is bad". */
const OPENAI_UNFINISHED = new Set(['batch_expired', 'batch_cancelled', 'batch_canceled']);
/** Anthropic error types worth another try. */
const ANTHROPIC_TRANSIENT = new Set(['api_error', 'overloaded_error', 'rate_limit_error', 'timeout_error']);

/**
 * The lines of a results JSONL file, each one's outcome put in `out` by its custom id; a line that does not
 * parse or has no custom id is skipped.
 */
function readResultLines<Row extends { custom_id?: unknown }>(
  text: string,
  out: Map<string, ItemResult>,
  result: (row: Row) => ItemResult,
): void {
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let row: Row;
    try {
      row = JSON.parse(line) as Row;
    } catch {
      continue;
    }
    if (typeof row?.custom_id !== 'string') continue;
    out.set(row.custom_id, result(row));
  }
}

/** A succeeded request's answer, read by the live target's parser; one it rejects is worth another batch. */
function answerResult(batchId: string, read: () => Generation): ItemResult {
  try {
    return { ok: true, generation: read() };
  } catch (err) {
    const e = err instanceof TargetError ? err : new TargetError(String(err), 'protocol');
    return { ok: false, retry: true, error: new TargetError(`batch ${batchId}: ${e.message}`, 'protocol') };
  }
}

/** What both providers' batch protocols hold: the live target (request bodies, answer parsing) and the HTTP client. */
abstract class LiveBatch<T extends HttpTarget> {
  protected readonly http: BatchHttp;

  constructor(
    protected readonly ep: Endpoint,
    protected readonly live: T,
  ) {
    // The live target's headers (its key included, as its API takes it), timeouts and retries.
    this.http = new BatchHttp({
      headers: live.headers,
      timeoutMs: ep.timeoutMs,
      retry: ep.retry,
      retryBudgetMs: ep.retryBudgetMs,
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.http.close(), this.live.close()]);
  }
}

export class OpenAIBatchProtocol extends LiveBatch<OpenAITarget> implements BatchProtocol {
  readonly provider = 'openai';
  readonly maxRequests = OPENAI_MAX_REQUESTS;
  readonly maxBytes = OPENAI_MAX_BYTES;

  constructor(ep: Endpoint) {
    super(ep, new OpenAITarget(ep));
  }

  request(prompt: Prompt, opts: GenerateOptions): { path: string; body: Record<string, unknown> } {
    const { raw, body } = this.live.request(prompt, opts);
    return { path: raw ? '/v1/completions' : '/v1/chat/completions', body };
  }

  size(path: string, item: BatchItem): number {
    return Buffer.byteLength(this.line(path, item)) + 1;
  }

  private line(path: string, item: BatchItem): string {
    return JSON.stringify({ custom_id: item.customId, method: 'POST', url: path, body: item.body });
  }

  async submit(
    path: string,
    items: BatchItem[],
    signal?: AbortSignal,
  ): Promise<{ id: string; status: string; inputFileId: string | null }> {
    const jsonl = `${items.map((i) => this.line(path, i)).join('\n')}\n`;
    const file = (await this.http.json(
      'POST',
      `${this.ep.baseUrl}/files`,
      {
        multipart: {
          fields: { purpose: 'batch' },
          file: { name: 'refusenik-batch.jsonl', type: 'application/jsonl', data: Buffer.from(jsonl) },
        },
      },
      { signal, creates: true },
    )) as { id?: unknown };
    if (typeof file?.id !== 'string') throw new TargetError('file upload answered without an id', 'protocol');
    const batch = (await this.http.json(
      'POST',
      `${this.ep.baseUrl}/batches`,
      { json: { input_file_id: file.id, endpoint: path, completion_window: '24h' } },
      { signal, creates: true },
    )) as OpenAIBatch;
    if (typeof batch?.id !== 'string')
      throw new TargetError('batch creation answered without an id', 'protocol');
    return { id: batch.id, status: String(batch.status ?? 'validating'), inputFileId: file.id };
  }

  async retrieve(id: string, signal?: AbortSignal): Promise<RemoteBatch> {
    const b = (await this.http.json(
      'GET',
      `${this.ep.baseUrl}/batches/${encodeURIComponent(id)}`,
      undefined,
      {
        signal,
      },
    )) as OpenAIBatch;
    const status = typeof b?.status === 'string' ? b.status : 'unknown';
    const ended = ['completed', 'expired', 'cancelled', 'failed'].includes(status);
    const firstError = b?.errors?.data?.[0];
    return {
      id,
      status,
      ended,
      ...(status === 'failed'
        ? { error: redact(firstError?.message ?? 'the batch failed (no reason given)') }
        : {}),
      outputFileId: b?.output_file_id ?? null,
      errorFileId: b?.error_file_id ?? null,
    };
  }

  async results(batch: RemoteBatch, path: string, signal?: AbortSignal): Promise<Map<string, ItemResult>> {
    const out = new Map<string, ItemResult>();
    const raw = path === '/v1/completions';
    for (const fileId of [batch.outputFileId, batch.errorFileId]) {
      if (!fileId) continue;
      const text = await this.http.text(
        `${this.ep.baseUrl}/files/${encodeURIComponent(fileId)}/content`,
        signal,
      );
      readResultLines<OpenAIOutputLine>(text, out, (row) => openAIResult(row, raw, batch.id));
    }
    return out;
  }
}

interface OpenAIBatch {
  id?: unknown;
  status?: unknown;
  output_file_id?: string | null;
  error_file_id?: string | null;
  errors?: { data?: { code?: string; message?: string }[] } | null;
}

interface OpenAIOutputLine {
  custom_id?: unknown;
  response?: { status_code?: number; body?: unknown } | null;
  error?: { code?: string | null; message?: string | null } | null;
}

function openAIResult(row: OpenAIOutputLine, raw: boolean, batchId: string): ItemResult {
  const status = row.response?.status_code;
  const answer = row.response?.body;
  if (status !== undefined && status >= 200 && status < 300 && answer !== undefined)
    return answerResult(batchId, () => answerFromBody(answer, raw, 1, 0));
  if (row.error && (!row.response || status === undefined)) {
    const code = row.error.code ?? 'error';
    const message = clip(redact(row.error.message ?? code), 300);
    const unfinished = OPENAI_UNFINISHED.has(code);
    return {
      ok: false,
      retry: unfinished,
      error: new TargetError(
        `batch ${batchId}: ${code}: ${message}`,
        code === 'batch_expired' ? 'timeout' : 'http',
      ),
    };
  }
  const body = row.response?.body as { error?: { message?: string } } | undefined;
  const message = clip(redact(body?.error?.message ?? row.error?.message ?? 'no answer'), 300);
  return {
    ok: false,
    retry: status === undefined || RETRYABLE_STATUS.has(status),
    error: new TargetError(`batch ${batchId}: HTTP ${status ?? '?'}: ${message}`, 'http', status),
  };
}

export class AnthropicBatchProtocol extends LiveBatch<AnthropicTarget> implements BatchProtocol {
  readonly provider = 'anthropic';
  readonly maxRequests = ANTHROPIC_MAX_REQUESTS;
  readonly maxBytes = ANTHROPIC_MAX_BYTES;

  constructor(ep: Endpoint) {
    super(ep, new AnthropicTarget(ep));
  }

  request(prompt: Prompt, opts: GenerateOptions): { path: string; body: Record<string, unknown> } {
    return { path: '/v1/messages', body: this.live.request(prompt, opts) };
  }

  size(_path: string, item: BatchItem): number {
    return Buffer.byteLength(JSON.stringify({ custom_id: item.customId, params: item.body })) + 1;
  }

  async submit(
    _path: string,
    items: BatchItem[],
    signal?: AbortSignal,
  ): Promise<{ id: string; status: string; inputFileId: string | null }> {
    const b = (await this.http.json(
      'POST',
      `${this.ep.baseUrl}/v1/messages/batches`,
      { json: { requests: items.map((i) => ({ custom_id: i.customId, params: i.body })) } },
      { signal, creates: true },
    )) as AnthropicBatch;
    if (typeof b?.id !== 'string') throw new TargetError('batch creation answered without an id', 'protocol');
    return { id: b.id, status: String(b.processing_status ?? 'in_progress'), inputFileId: null };
  }

  async retrieve(id: string, signal?: AbortSignal): Promise<RemoteBatch> {
    const b = (await this.http.json(
      'GET',
      `${this.ep.baseUrl}/v1/messages/batches/${encodeURIComponent(id)}`,
      undefined,
      { signal },
    )) as AnthropicBatch;
    const status = typeof b?.processing_status === 'string' ? b.processing_status : 'unknown';
    return { id, status, ended: status === 'ended', resultsUrl: b?.results_url ?? null };
  }

  async results(batch: RemoteBatch, _path: string, signal?: AbortSignal): Promise<Map<string, ItemResult>> {
    const out = new Map<string, ItemResult>();
    const url =
      batch.resultsUrl ?? `${this.ep.baseUrl}/v1/messages/batches/${encodeURIComponent(batch.id)}/results`;
    const text = await this.http.text(url, signal);
    readResultLines<AnthropicResultLine>(text, out, (row) => anthropicResult(row, batch.id));
    return out;
  }
}

interface AnthropicBatch {
  id?: unknown;
  processing_status?: unknown;
  results_url?: string | null;
}

interface AnthropicResultLine {
  custom_id?: unknown;
  result?: {
    type?: string;
    message?: unknown;
    error?: { type?: string; error?: { type?: string; message?: string } } | null;
  };
}

function anthropicResult(row: AnthropicResultLine, batchId: string): ItemResult {
  const r = row.result;
  if (r?.type === 'succeeded') return answerResult(batchId, () => fromMessage(r.message, 1, 0));
  if (r?.type === 'errored') {
    const inner = r.error?.error ?? r.error ?? {};
    const type = inner.type ?? 'error';
    const message = clip(redact((inner as { message?: string }).message ?? type), 300);
    return {
      ok: false,
      retry: ANTHROPIC_TRANSIENT.has(type),
      error: new TargetError(
        `batch ${batchId}: ${type}: ${message}`,
        'http',
        type === 'invalid_request_error' ? 400 : undefined,
      ),
    };
  }
  // canceled or expired: never run, so worth another batch.
  const type = r?.type ?? 'unknown';
  return {
    ok: false,
    retry: true,
    error: new TargetError(`batch ${batchId}: request ${type}`, type === 'expired' ? 'timeout' : 'http'),
  };
}
