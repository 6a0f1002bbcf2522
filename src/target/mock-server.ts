import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChatMessage } from '../types.js';
import { LoopbackServer, readBody, sendJson as json } from './loopback-server.js';
import { SCRIPTS, type Script, type ScriptRequest } from './scripted.js';

/**
 * A loopback model server speaking the real OpenAI (chat, completions, SSE) and Anthropic (Messages, SSE)
 * protocols, with scripted answers, configurable latency and injectable faults. The tests and benchmarks
 * run against it; users get it as `refusenik mock-server` for dry runs of configs.
 */

export type FaultKind = '429' | '500' | '503' | 'timeout' | 'malformed' | 'reset' | 'sse-malformed';

export interface Fault {
  kind: FaultKind;
  /** Only the first `times` matching requests fail (default: all). */
  times?: number;
  /** Only requests whose prompt matches. */
  match?: RegExp;
  /** Retry-After seconds for 429/503. */
  retryAfter?: number;
}

export interface MockServerOptions {
  host?: string;
  port?: number;
  latencyMs?: number;
  /** A script name from SCRIPTS or a function; default `refuse-plain`. */
  script?: string | Script;
  faults?: Fault[];
}

export interface MockStats {
  requests: number;
  /** Requests per prompt text (the last user message or the raw text). */
  byPrompt: Map<string, number>;
  faultsInjected: number;
}

export class MockServer extends LoopbackServer {
  readonly stats: MockStats = { requests: 0, byPrompt: new Map(), faultsInjected: 0 };
  private faults: (Fault & { used: number })[];
  private script: Script;
  private latencyMs: number;

  constructor(private readonly opts: MockServerOptions = {}) {
    super();
    this.faults = (opts.faults ?? []).map((f) => ({ ...f, used: 0 }));
    this.script = resolveScript(opts.script);
    this.latencyMs = opts.latencyMs ?? 0;
  }

  setFaults(faults: Fault[]): void {
    this.faults = faults.map((f) => ({ ...f, used: 0 }));
  }

  setScript(script: string | Script): void {
    this.script = resolveScript(script);
  }

  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  async start(): Promise<this> {
    await this.listen(this.opts.port ?? 0, this.opts.host);
    return this;
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '';
    if (req.method === 'GET' && url.endsWith('/models')) {
      return json(res, 200, {
        object: 'list',
        data: [{ id: 'mock', object: 'model', owned_by: 'refusenik' }],
      });
    }
    if (req.method !== 'POST') return json(res, 404, { error: { message: `no route ${req.method} ${url}` } });
    let body: Record<string, unknown>;
    try {
      body = JSON.parse((await readBody(req)).toString('utf8')) as Record<string, unknown>;
    } catch {
      return json(res, 400, { error: { message: 'invalid JSON body' } });
    }
    const protocol = url.endsWith('/chat/completions')
      ? 'chat'
      : url.endsWith('/completions')
        ? 'completion'
        : url.endsWith('/messages')
          ? 'anthropic'
          : undefined;
    if (!protocol) return json(res, 404, { error: { message: `no route POST ${url}` } });

    const sreq = toScriptRequest(protocol, body);
    const key = sreq.text ?? lastUser(sreq.messages);
    this.stats.requests++;
    this.stats.byPrompt.set(key, (this.stats.byPrompt.get(key) ?? 0) + 1);

    const fault = this.faults.find(
      (f) => (f.times === undefined || f.used < f.times) && (!f.match || f.match.test(key)),
    );
    if (fault) {
      fault.used++;
      this.stats.faultsInjected++;
      if (fault.kind === 'timeout') return; // never answer; the client's timeout fires
      if (this.latencyMs) await delay(this.latencyMs);
      return injectFault(fault, res);
    }
    if (this.latencyMs) await delay(this.latencyMs);
    if (res.destroyed) return;
    const text = this.script(sreq);
    const stream = body['stream'] === true;
    const model = typeof body['model'] === 'string' ? body['model'] : 'mock';
    const promptTokens = countTokens(key);
    const completionTokens = countTokens(text);
    if (protocol === 'anthropic') {
      return stream
        ? sse(res, anthropicEvents(model, text, promptTokens, completionTokens), true)
        : json(res, 200, {
            id: 'msg_mock',
            type: 'message',
            role: 'assistant',
            model,
            content: [{ type: 'text', text }],
            stop_reason: 'end_turn',
            usage: { input_tokens: promptTokens, output_tokens: completionTokens },
          });
    }
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };
    if (stream) return sse(res, openaiEvents(protocol, model, text, usage, body['stream_options']), false);
    if (protocol === 'completion') {
      const echo = body['echo'] === true;
      const full = echo ? (sreq.text ?? '') + text : text;
      const logprobs =
        body['logprobs'] !== undefined && body['logprobs'] !== null ? fakeLogprobs(full) : null;
      return json(res, 200, {
        id: 'cmpl-mock',
        object: 'text_completion',
        model,
        choices: [{ index: 0, text: full, finish_reason: 'stop', logprobs }],
        usage,
      });
    }
    return json(res, 200, {
      id: 'chatcmpl-mock',
      object: 'chat.completion',
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
      usage,
    });
  }
}

function resolveScript(script: string | Script | undefined): Script {
  if (typeof script === 'function') return script;
  const s = SCRIPTS[script ?? 'refuse-plain'];
  if (!s) throw new Error(`unknown mock script '${script}'; available: ${Object.keys(SCRIPTS).join(', ')}`);
  return s;
}

function toScriptRequest(
  protocol: 'chat' | 'completion' | 'anthropic',
  body: Record<string, unknown>,
): ScriptRequest {
  const model = typeof body['model'] === 'string' ? body['model'] : undefined;
  if (protocol === 'completion') return { text: String(body['prompt'] ?? ''), model, body };
  const messages = Array.isArray(body['messages']) ? (body['messages'] as ChatMessage[]) : [];
  const all: ChatMessage[] = [];
  if (protocol === 'anthropic' && typeof body['system'] === 'string')
    all.push({ role: 'system', content: body['system'] });
  for (const m of messages)
    all.push({
      role: m.role,
      content: typeof m.content === 'string' ? m.content : JSON.stringify(m.content),
    });
  const rf = body['response_format'] as { type?: string } | undefined;
  return { messages: all, model, jsonMode: rf?.type === 'json_object', body };
}

function lastUser(messages: ChatMessage[] | undefined): string {
  const users = (messages ?? []).filter((m) => m.role === 'user');
  return users.length ? (users[users.length - 1] as ChatMessage).content : '';
}

function injectFault(fault: Fault, res: ServerResponse): void {
  switch (fault.kind) {
    case '429':
    case '503':
      res.writeHead(Number(fault.kind), {
        'content-type': 'application/json',
        ...(fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {}),
      });
      res.end(JSON.stringify({ error: { message: 'Rate limit reached', type: 'rate_limit_error' } }));
      return;
    case '500':
      return json(res, 500, { error: { message: 'internal server error' } });
    case 'malformed':
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"choices": [ {"message": ');
      return;
    case 'sse-malformed':
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: {"choices": [ {"delta": \n\n');
      return;
    case 'reset':
      res.socket?.destroy();
      return;
    case 'timeout':
      return;
  }
}

function sse(res: ServerResponse, events: { event?: string; data: unknown }[], named: boolean): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const e of events) {
    res.write(`${named && e.event ? `event: ${e.event}\n` : ''}data: ${JSON.stringify(e.data)}\n\n`);
  }
  if (!named) res.write('data: [DONE]\n\n');
  res.end();
}

/** Splits text into a few chunks, like a real streaming server. */
function chunks(text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += 16) out.push(text.slice(i, i + 16));
  return out.length ? out : [''];
}

function openaiEvents(
  protocol: 'chat' | 'completion',
  model: string,
  text: string,
  usage: Record<string, number>,
  streamOptions: unknown,
): { data: unknown }[] {
  const events: { data: unknown }[] = chunks(text).map((piece) => ({
    data: {
      object: protocol === 'chat' ? 'chat.completion.chunk' : 'text_completion',
      model,
      choices: [
        protocol === 'chat'
          ? { index: 0, delta: { content: piece }, finish_reason: null }
          : { index: 0, text: piece, finish_reason: null },
      ],
    },
  }));
  events.push({
    data: {
      model,
      choices: [
        protocol === 'chat'
          ? { index: 0, delta: {}, finish_reason: 'stop' }
          : { index: 0, text: '', finish_reason: 'stop' },
      ],
    },
  });
  if ((streamOptions as { include_usage?: boolean } | undefined)?.include_usage)
    events.push({ data: { model, choices: [], usage } });
  return events;
}

function anthropicEvents(
  model: string,
  text: string,
  input: number,
  output: number,
): { event: string; data: unknown }[] {
  return [
    {
      event: 'message_start',
      data: {
        type: 'message_start',
        message: { model, content: [], usage: { input_tokens: input, output_tokens: 0 } },
      },
    },
    {
      event: 'content_block_start',
      data: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    },
    ...chunks(text).map((piece) => ({
      event: 'content_block_delta',
      data: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece } },
    })),
    { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
    {
      event: 'message_delta',
      data: { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: output } },
    },
    { event: 'message_stop', data: { type: 'message_stop' } },
  ];
}

/** Whitespace tokens with a deterministic logprob each, so likelihood-based attacks have a signal to follow. */
function fakeLogprobs(text: string): { tokens: string[]; token_logprobs: (number | null)[] } {
  const tokens = text.match(/\s*\S+/g) ?? [];
  return {
    tokens,
    token_logprobs: tokens.map((t, i) => (i === 0 ? null : -((t.trim().length % 7) + 1) / 4)),
  };
}

function countTokens(text: string): number {
  return (text.match(/\S+/g) ?? []).length;
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
