import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackServer, readBody, sendJson as send } from '../target/loopback-server.js';

/**
 * A loopback server speaking the real provider batch protocols, for tests and benchmarks: OpenAI's Files and
 * Batches APIs (multipart upload with purpose `batch`, create with endpoint and completion_window 24h,
 * retrieve walking validating → in_progress → finalizing → completed, output and error files) and
 * Anthropic's Message Batches API (create, retrieve with in_progress / ended, results JSONL at results_url).
 * A batch may be scripted to expire, be cancelled or fail, with only part of its requests done, and single
 * requests may fail. It also answers live chat and Messages calls, counting them, so a test can check that
 * batch delivery sent none.
 */

/** What becomes of one batch (by the order batches were created, 0-based). */
export interface BatchPlan {
  /** How the batch ends (default completed). */
  outcome?: 'completed' | 'expired' | 'cancelled' | 'failed';
  /** For expired and cancelled batches: how many of its requests were done before the end (default half). */
  done?: number;
  /** Polls that report it still running before it ends (default 2: validating, in_progress; then finalizing). */
  polls?: number;
  /** Hold it running until `release(id)` (a test kills the process meanwhile). */
  hold?: boolean;
}

/** A per-request failure: an HTTP status with an error message (OpenAI) / an error type (Anthropic). */
export interface RequestFault {
  status: number;
  type?: string;
  message: string;
}

export interface BatchMockOptions {
  /** The answer to a request's last user message. */
  answer?: (text: string) => string;
  /** The plan of the n-th batch created. */
  plan?: (index: number) => BatchPlan;
  /** A per-request failure by the request's last user message, or undefined. */
  fault?: (text: string, submission: number) => RequestFault | undefined;
  /** Require this key (Bearer / x-api-key) on every call. */
  apiKey?: string;
}

interface StoredFile {
  id: string;
  purpose: string;
  content: string;
}

interface MockBatch {
  id: string;
  index: number;
  provider: 'openai' | 'anthropic';
  endpoint: string;
  requests: { customId: string; body: Record<string, unknown> }[];
  plan: BatchPlan;
  polls: number;
  released: boolean;
  inputFileId: string | null;
  outputFileId: string | null;
  errorFileId: string | null;
  status: string;
  results: string | null;
  createdAt: number;
}

export interface BatchMockStats {
  uploads: number;
  batchesCreated: number;
  /** GET /batches/{id} (and /messages/batches/{id}) by id. */
  retrieves: Map<string, number>;
  fileDownloads: number;
  /** Live requests (chat/completions, completions, messages): batch delivery sends none. */
  liveRequests: number;
  /** Requests per custom id across every batch (a resubmitted request counts twice). */
  submitted: Map<string, number>;
  /** The custom ids of each batch created, in order. */
  batches: { id: string; customIds: string[] }[];
}

export class BatchMockServer extends LoopbackServer {
  readonly stats: BatchMockStats = {
    uploads: 0,
    batchesCreated: 0,
    retrieves: new Map(),
    fileDownloads: 0,
    liveRequests: 0,
    submitted: new Map(),
    batches: [],
  };
  private readonly files = new Map<string, StoredFile>();
  private readonly batches = new Map<string, MockBatch>();
  private readonly answer: (text: string) => string;

  constructor(private readonly opts: BatchMockOptions = {}) {
    super();
    this.answer =
      opts.answer ?? ((t) => (/^harmful/i.test(t) ? "I'm sorry, I can't help with that." : `Sure: ${t}`));
  }

  /** Lets a held batch end on its next poll. */
  release(id: string): void {
    const b = this.batches.get(id);
    if (b) b.released = true;
  }

  /** A batch's current provider status. */
  statusOf(id: string): string | undefined {
    return this.batches.get(id)?.status;
  }

  async start(port = 0): Promise<this> {
    await this.listen(port);
    return this;
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (this.opts.apiKey !== undefined) {
      const bearer = req.headers['authorization'];
      const key = req.headers['x-api-key'];
      if (bearer !== `Bearer ${this.opts.apiKey}` && key !== this.opts.apiKey)
        return send(res, 401, { error: { message: 'invalid api key' } });
    }
    const body = await readBody(req);
    try {
      // ---- OpenAI Files + Batches
      if (method === 'POST' && path === '/v1/files') return this.upload(req, body, res);
      if (method === 'POST' && path === '/v1/batches')
        return this.createOpenAI(JSON.parse(body.toString()), res);
      let m = /^\/v1\/batches\/([^/]+)$/.exec(path);
      if (method === 'GET' && m) return this.retrieveOpenAI(decodeURIComponent(m[1] as string), res);
      m = /^\/v1\/files\/([^/]+)\/content$/.exec(path);
      if (method === 'GET' && m) {
        const f = this.files.get(decodeURIComponent(m[1] as string));
        if (!f) return send(res, 404, { error: { message: 'no such file' } });
        this.stats.fileDownloads++;
        res.writeHead(200, { 'content-type': 'application/jsonl' });
        return void res.end(f.content);
      }
      // ---- Anthropic Message Batches
      if (method === 'POST' && path === '/v1/messages/batches') {
        if (req.headers['anthropic-version'] === undefined)
          return send(res, 400, {
            error: { type: 'invalid_request_error', message: 'anthropic-version header missing' },
          });
        return this.createAnthropic(JSON.parse(body.toString()), res);
      }
      m = /^\/v1\/messages\/batches\/([^/]+)\/results$/.exec(path);
      if (method === 'GET' && m) {
        const b = this.batches.get(decodeURIComponent(m[1] as string));
        if (!b?.results)
          return send(res, 404, { error: { type: 'not_found_error', message: 'no results yet' } });
        this.stats.fileDownloads++;
        res.writeHead(200, { 'content-type': 'application/binary' });
        return void res.end(b.results);
      }
      m = /^\/v1\/messages\/batches\/([^/]+)$/.exec(path);
      if (method === 'GET' && m) return this.retrieveAnthropic(decodeURIComponent(m[1] as string), res);
      // ---- live calls (counted; batch delivery must send none)
      if (method === 'POST' && (path.endsWith('/chat/completions') || path.endsWith('/completions'))) {
        this.stats.liveRequests++;
        const b = JSON.parse(body.toString()) as Record<string, unknown>;
        return send(res, 200, this.chatAnswer(b));
      }
      if (method === 'POST' && path === '/v1/messages') {
        this.stats.liveRequests++;
        const b = JSON.parse(body.toString()) as Record<string, unknown>;
        return send(res, 200, this.messageAnswer(b));
      }
    } catch (err) {
      return send(res, 400, { error: { message: `bad request: ${(err as Error).message}` } });
    }
    return send(res, 404, { error: { message: `no route ${method} ${path}` } });
  }

  private upload(req: IncomingMessage, body: Buffer, res: ServerResponse): void {
    const type = req.headers['content-type'] ?? '';
    const boundary = /boundary=(.+)$/.exec(type)?.[1];
    if (!type.startsWith('multipart/form-data') || !boundary)
      return send(res, 400, { error: { message: 'expected multipart/form-data' } });
    const parts = parseMultipart(body, boundary);
    const purpose = parts.get('purpose')?.toString();
    const file = parts.get('file');
    if (purpose !== 'batch')
      return send(res, 400, { error: { message: `purpose must be batch, got ${purpose}` } });
    if (!file) return send(res, 400, { error: { message: 'no file part' } });
    this.stats.uploads++;
    const id = `file-${randomBytes(8).toString('hex')}`;
    this.files.set(id, { id, purpose, content: file.toString('utf8') });
    send(res, 200, {
      id,
      object: 'file',
      bytes: file.length,
      created_at: Math.floor(Date.now() / 1000),
      filename: 'batch.jsonl',
      purpose: 'batch',
    });
  }

  private createOpenAI(req: Record<string, unknown>, res: ServerResponse): void {
    const file = this.files.get(String(req['input_file_id']));
    if (!file) return send(res, 400, { error: { message: 'input_file_id does not exist' } });
    if (req['completion_window'] !== '24h')
      return send(res, 400, { error: { message: 'completion_window must be 24h' } });
    const endpoint = String(req['endpoint']);
    if (!['/v1/chat/completions', '/v1/completions'].includes(endpoint))
      return send(res, 400, { error: { message: `unsupported endpoint ${endpoint}` } });
    const requests: MockBatch['requests'] = [];
    const seen = new Set<string>();
    for (const line of file.content.split('\n')) {
      if (!line.trim()) continue;
      const l = JSON.parse(line) as {
        custom_id: string;
        method: string;
        url: string;
        body: Record<string, unknown>;
      };
      if (l.method !== 'POST' || l.url !== endpoint)
        return send(res, 400, { error: { message: `line for ${l.url} in a batch for ${endpoint}` } });
      if (seen.has(l.custom_id))
        return send(res, 400, { error: { message: `duplicate custom_id ${l.custom_id}` } });
      seen.add(l.custom_id);
      requests.push({ customId: l.custom_id, body: l.body });
    }
    const b = this.newBatch('openai', `batch_${randomBytes(8).toString('hex')}`, endpoint, requests);
    b.inputFileId = file.id;
    b.status = 'validating';
    send(res, 200, this.openAIView(b));
  }

  private createAnthropic(
    req: { requests?: { custom_id: string; params: Record<string, unknown> }[] },
    res: ServerResponse,
  ): void {
    const list = req.requests ?? [];
    if (list.length === 0)
      return send(res, 400, { error: { type: 'invalid_request_error', message: 'requests: empty' } });
    const seen = new Set<string>();
    for (const r of list) {
      if (!/^[a-zA-Z0-9_-]{1,64}$/.test(r.custom_id))
        return send(res, 400, {
          error: { type: 'invalid_request_error', message: `bad custom_id ${r.custom_id}` },
        });
      if (seen.has(r.custom_id))
        return send(res, 400, { error: { type: 'invalid_request_error', message: 'duplicate custom_id' } });
      seen.add(r.custom_id);
    }
    const b = this.newBatch(
      'anthropic',
      `msgbatch_${randomBytes(8).toString('hex')}`,
      '/v1/messages',
      list.map((r) => ({ customId: r.custom_id, body: r.params })),
    );
    b.status = 'in_progress';
    send(res, 200, this.anthropicView(b));
  }

  private newBatch(
    provider: MockBatch['provider'],
    id: string,
    endpoint: string,
    requests: MockBatch['requests'],
  ): MockBatch {
    const index = this.stats.batchesCreated++;
    const b: MockBatch = {
      id,
      index,
      provider,
      endpoint,
      requests,
      plan: this.opts.plan?.(index) ?? {},
      polls: 0,
      released: false,
      inputFileId: null,
      outputFileId: null,
      errorFileId: null,
      status: 'validating',
      results: null,
      createdAt: Math.floor(Date.now() / 1000),
    };
    for (const r of requests)
      this.stats.submitted.set(r.customId, (this.stats.submitted.get(r.customId) ?? 0) + 1);
    this.stats.batches.push({ id, customIds: requests.map((r) => r.customId) });
    this.batches.set(id, b);
    return b;
  }

  /** One poll: the batch moves a step, and ends once its polls are spent (unless held). */
  private advance(b: MockBatch): void {
    this.stats.retrieves.set(b.id, (this.stats.retrieves.get(b.id) ?? 0) + 1);
    if (b.results !== null || b.status === 'failed') return;
    b.polls++;
    const running = b.plan.polls ?? 2;
    const held = b.plan.hold === true && !b.released;
    if (b.polls <= running || held) {
      if (b.provider === 'openai') b.status = b.polls <= 1 ? 'validating' : 'in_progress';
      return;
    }
    if (
      b.provider === 'openai' &&
      running > 0 &&
      b.status !== 'finalizing' &&
      (b.plan.outcome ?? 'completed') === 'completed'
    ) {
      b.status = 'finalizing';
      return;
    }
    this.finish(b);
  }

  private finish(b: MockBatch): void {
    const outcome = b.plan.outcome ?? 'completed';
    if (b.provider === 'openai' && outcome === 'failed') {
      b.status = 'failed';
      return;
    }
    const done =
      outcome === 'completed' ? b.requests.length : (b.plan.done ?? Math.floor(b.requests.length / 2));
    const ok: string[] = [];
    const bad: string[] = [];
    b.requests.forEach((r, i) => {
      const text = lastUser(r.body);
      const submission = this.stats.submitted.get(r.customId) ?? 1;
      if (i >= done || outcome === 'failed') {
        if (b.provider === 'openai') {
          const code = outcome === 'expired' ? 'batch_expired' : 'batch_cancelled';
          bad.push(
            JSON.stringify({
              id: `batch_req_${i}`,
              custom_id: r.customId,
              response: null,
              error: { code, message: `This request could not be executed before the batch ${outcome}.` },
            }),
          );
        } else {
          const type = outcome === 'expired' ? 'expired' : 'canceled';
          bad.push(JSON.stringify({ custom_id: r.customId, result: { type } }));
        }
        return;
      }
      const fault = this.opts.fault?.(text, submission);
      if (fault) {
        if (b.provider === 'openai') {
          bad.push(
            JSON.stringify({
              id: `batch_req_${i}`,
              custom_id: r.customId,
              response: {
                status_code: fault.status,
                request_id: `req_${i}`,
                body: { error: { message: fault.message, type: fault.type ?? 'invalid_request_error' } },
              },
              error: null,
            }),
          );
        } else {
          bad.push(
            JSON.stringify({
              custom_id: r.customId,
              result: {
                type: 'errored',
                error: {
                  type: 'error',
                  error: { type: fault.type ?? 'invalid_request_error', message: fault.message },
                },
              },
            }),
          );
        }
        return;
      }
      if (b.provider === 'openai') {
        ok.push(
          JSON.stringify({
            id: `batch_req_${i}`,
            custom_id: r.customId,
            response: { status_code: 200, request_id: `req_${i}`, body: this.chatAnswer(r.body) },
            error: null,
          }),
        );
      } else {
        ok.push(
          JSON.stringify({
            custom_id: r.customId,
            result: { type: 'succeeded', message: this.messageAnswer(r.body) },
          }),
        );
      }
    });
    if (b.provider === 'openai') {
      b.status = outcome;
      if (ok.length) b.outputFileId = this.file(`${ok.join('\n')}\n`);
      if (bad.length) b.errorFileId = this.file(`${bad.join('\n')}\n`);
      b.results = '';
    } else {
      b.status = 'ended';
      // Results come in no particular order.
      b.results = `${[...bad, ...ok].join('\n')}\n`;
    }
  }

  private file(content: string): string {
    const id = `file-${randomBytes(8).toString('hex')}`;
    this.files.set(id, { id, purpose: 'batch_output', content });
    return id;
  }

  private retrieveOpenAI(id: string, res: ServerResponse): void {
    const b = this.batches.get(id);
    if (!b || b.provider !== 'openai') return send(res, 404, { error: { message: `no batch ${id}` } });
    this.advance(b);
    send(res, 200, this.openAIView(b));
  }

  private retrieveAnthropic(id: string, res: ServerResponse): void {
    const b = this.batches.get(id);
    if (!b || b.provider !== 'anthropic')
      return send(res, 404, { error: { type: 'not_found_error', message: `no batch ${id}` } });
    this.advance(b);
    send(res, 200, this.anthropicView(b));
  }

  private openAIView(b: MockBatch): Record<string, unknown> {
    const counts = { total: b.requests.length, completed: 0, failed: 0 };
    return {
      id: b.id,
      object: 'batch',
      endpoint: b.endpoint,
      errors:
        b.status === 'failed'
          ? {
              object: 'list',
              data: [{ code: 'invalid_request', message: 'the input file did not validate', line: 1 }],
            }
          : null,
      input_file_id: b.inputFileId,
      completion_window: '24h',
      status: b.status,
      output_file_id: b.outputFileId,
      error_file_id: b.errorFileId,
      created_at: b.createdAt,
      request_counts: counts,
      metadata: null,
    };
  }

  private anthropicView(b: MockBatch): Record<string, unknown> {
    const ended = b.status === 'ended';
    return {
      id: b.id,
      type: 'message_batch',
      processing_status: b.status,
      request_counts: {
        processing: ended ? 0 : b.requests.length,
        succeeded: 0,
        errored: 0,
        canceled: 0,
        expired: 0,
      },
      ended_at: ended ? new Date().toISOString() : null,
      created_at: new Date(b.createdAt * 1000).toISOString(),
      expires_at: new Date((b.createdAt + 86_400) * 1000).toISOString(),
      cancel_initiated_at: null,
      results_url: ended ? `${this.origin}/v1/messages/batches/${b.id}/results` : null,
    };
  }

  private chatAnswer(body: Record<string, unknown>): Record<string, unknown> {
    const text = lastUser(body);
    const answer = this.answer(text);
    return {
      id: `chatcmpl-${randomBytes(6).toString('hex')}`,
      object: 'chat.completion',
      model: String(body['model'] ?? 'mock'),
      choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' }],
      usage: {
        prompt_tokens: words(text) + 8,
        completion_tokens: words(answer),
        total_tokens: words(text) + 8 + words(answer),
      },
    };
  }

  private messageAnswer(body: Record<string, unknown>): Record<string, unknown> {
    const text = lastUser(body);
    const answer = this.answer(text);
    return {
      id: `msg_${randomBytes(6).toString('hex')}`,
      type: 'message',
      role: 'assistant',
      model: String(body['model'] ?? 'mock'),
      content: [{ type: 'text', text: answer }],
      stop_reason: 'end_turn',
      usage: { input_tokens: words(text) + 8, output_tokens: words(answer) },
    };
  }
}

function words(t: string): number {
  return t.split(/\s+/).filter(Boolean).length;
}

function lastUser(body: Record<string, unknown>): string {
  const messages = body['messages'] as { role: string; content: unknown }[] | undefined;
  if (Array.isArray(messages)) {
    for (let i = messages.length - 1; i >= 0; i--) {
      const m = messages[i];
      if (m?.role === 'user') return typeof m.content === 'string' ? m.content : JSON.stringify(m.content);
    }
  }
  return typeof body['prompt'] === 'string' ? body['prompt'] : '';
}

/** The named parts of a multipart/form-data body. */
function parseMultipart(body: Buffer, boundary: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const delimiter = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delimiter);
  while (pos >= 0) {
    const start = pos + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, start);
    if (next < 0) break;
    const part = body.subarray(start + 2, next - 2);
    const headerEnd = part.indexOf('\r\n\r\n');
    const headers = part.subarray(0, headerEnd).toString();
    const name = /name="([^"]+)"/.exec(headers)?.[1];
    if (name) out.set(name, part.subarray(headerEnd + 4));
    pos = next;
  }
  return out;
}
