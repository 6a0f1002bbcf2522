import type { Generation, Prompt, Usage } from '../types.js';
import { chatMessages, compact, HttpTarget, mergeParams, type Endpoint } from './endpoint.js';
import { httpProvider } from './http-provider.js';
import { TargetError, type GenerateOptions } from './target.js';

const API_VERSION = '2023-06-01';

/**
 * Anthropic's Messages API. System messages move to the top-level `system` field; a trailing assistant
 * message is a native prefill. `max_tokens` is required by the API, so it defaults to 1024.
 */
export class AnthropicTarget extends HttpTarget {
  private readonly url: string;

  constructor(ep: Endpoint) {
    super('anthropic', ep, {
      'anthropic-version': API_VERSION,
      ...ep.headers,
      ...(ep.apiKey ? { 'x-api-key': ep.apiKey } : {}),
    });
    this.url = `${ep.baseUrl}/v1/messages`;
  }

  async generate(prompt: Prompt, opts: GenerateOptions = {}): Promise<Generation> {
    const body = this.request(prompt, opts);
    const { headers, url } = this;

    if (this.ep.stream) {
      body['stream'] = true;
      // A finished Messages stream ends with a `message_stop` event.
      const { events, attempts, latencyMs } = await this.http.postSse(
        url,
        body,
        headers,
        opts.signal,
        (evs) =>
          evs.some((e) => e.event === 'message_stop' || (e.data as StreamEvent)?.type === 'message_stop'),
      );
      return fromStream(
        events.map((e) => e.data as StreamEvent),
        attempts,
        latencyMs,
      );
    }
    // A finished Messages answer says why it stopped; one without stop_reason is not complete.
    const res = await this.http.postJson(url, body, headers, opts.signal, checkMessage);
    return fromMessage(res.body, res.attempts, res.latencyMs);
  }

  /** The JSON body of one Messages request (not streamed); batch delivery (src/batch/) sends the same. */
  request(prompt: Prompt, opts: GenerateOptions = {}): Record<string, unknown> {
    const ep = this.ep;
    const p = mergeParams(ep.params, opts.params);
    const all = chatMessages(prompt, ep);
    const system = all.filter((m) => m.role === 'system').map((m) => m.content);
    const messages = all
      .filter((m) => m.role !== 'system')
      .map((m) => ({ role: m.role, content: m.content }));
    if (messages[0]?.role === 'assistant') messages.unshift({ role: 'user', content: '' });
    const body: Record<string, unknown> = {
      ...compact({
        model: ep.model,
        max_tokens: p.maxTokens ?? 1024,
        temperature: p.temperature,
        top_p: p.topP,
        stop_sequences: p.stop,
        system: system.length ? system.join('\n\n') : undefined,
      }),
      messages,
      ...ep.extraBody,
    };
    return body;
  }
}

export const anthropicProvider = httpProvider({
  name: 'anthropic',
  description: 'Anthropic Messages API',
  defaults: { baseUrl: 'https://api.anthropic.com', apiKeyEnv: 'ANTHROPIC_API_KEY' },
  make: (ep) => new AnthropicTarget(ep),
});

/** A finished Messages answer says why it stopped; one without stop_reason is not complete. */
function checkMessage(raw: unknown): void {
  const m = raw as MessageBody;
  if (!Array.isArray(m?.content)) throw new TargetError('response has no content', 'protocol');
  if (!m.stop_reason)
    throw new TargetError('response has no stop_reason: the answer may be incomplete', 'protocol');
}

/** A complete Messages answer (live, or a batch's `succeeded` result) as a Generation. */
export function fromMessage(raw: unknown, attempts: number, latencyMs: number): Generation {
  checkMessage(raw);
  const b = raw as MessageBody & { content: { type: string; text?: string }[] };
  return {
    text: b.content.map((c) => (c.type === 'text' && typeof c.text === 'string' ? c.text : '')).join(''),
    finishReason: b.stop_reason ?? undefined,
    usage: usageOf(b.usage),
    latencyMs,
    attempts,
    cached: false,
    model: b.model,
  };
}

interface MessageBody {
  content?: { type: string; text?: string }[];
  stop_reason?: string | null;
  usage?: { input_tokens?: number; output_tokens?: number };
  model?: string;
}

interface StreamEvent {
  type?: string;
  message?: MessageBody;
  delta?: { type?: string; text?: string; stop_reason?: string | null };
  usage?: { input_tokens?: number; output_tokens?: number };
  error?: { message?: string };
}

function fromStream(events: StreamEvent[], attempts: number, latencyMs: number): Generation {
  let text = '';
  let finishReason: string | undefined;
  let input: number | undefined;
  let output: number | undefined;
  let model: string | undefined;
  for (const e of events) {
    if (e.type === 'error')
      throw new TargetError(`stream error: ${e.error?.message ?? 'unknown'}`, 'protocol');
    if (e.type === 'message_start') {
      model = e.message?.model;
      input = e.message?.usage?.input_tokens;
    }
    if (e.type === 'content_block_delta' && e.delta?.type === 'text_delta') text += e.delta.text ?? '';
    if (e.type === 'message_delta') {
      finishReason = e.delta?.stop_reason ?? finishReason;
      output = e.usage?.output_tokens ?? output;
    }
  }
  return {
    text,
    finishReason,
    usage: { promptTokens: input, completionTokens: output },
    latencyMs,
    attempts,
    cached: false,
    model,
  };
}

function usageOf(u: MessageBody['usage']): Usage | undefined {
  return u ? { promptTokens: u.input_tokens, completionTokens: u.output_tokens } : undefined;
}
