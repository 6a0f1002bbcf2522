import type { Generation, Prompt, TokenLogprob, Usage } from '../types.js';
import { chatMessages, compact, HttpTarget, mergeParams, type Endpoint } from './endpoint.js';
import { httpProvider } from './http-provider.js';
import { TargetError, type GenerateOptions, type SamplingParams } from './target.js';

/**
 * OpenAI-compatible APIs (OpenAI, vLLM, Ollama, llama.cpp server, TGI, Together, ...): chat prompts go to
 * `/chat/completions`, raw-text prompts to the legacy `/completions` endpoint (no chat template).
 */
export class OpenAITarget extends HttpTarget {
  /** The sampling fields of a request body, computed once for the target's own parameters. */
  private readonly baseParams: Record<string, unknown>;
  private readonly chatUrl: string;
  private readonly completionsUrl: string;

  constructor(ep: Endpoint) {
    // The HTTP client adds content-type and accept.
    super('openai', ep, { ...ep.headers, ...(ep.apiKey ? { authorization: `Bearer ${ep.apiKey}` } : {}) });
    this.baseParams = this.paramsBody(ep.params);
    this.chatUrl = `${ep.baseUrl}/chat/completions`;
    this.completionsUrl = `${ep.baseUrl}/completions`;
  }

  async generate(prompt: Prompt, opts: GenerateOptions = {}): Promise<Generation> {
    const ep = this.ep;
    const { raw, body } = this.request(prompt, opts);
    const url = raw ? this.completionsUrl : this.chatUrl;
    const headers = this.headers;

    if (ep.stream) {
      body['stream'] = true;
      body['stream_options'] = { include_usage: true };
      // A finished OpenAI-style stream ends with `data: [DONE]` or, on some servers, a finish reason.
      const { events, attempts, latencyMs } = await this.http.postSse(
        url,
        body,
        headers,
        opts.signal,
        (evs, sawDone) =>
          sawDone || evs.some((e) => Boolean((e.data as CompletionBody)?.choices?.[0]?.finish_reason)),
      );
      return fromStream(
        events.map((e) => e.data),
        raw,
        attempts,
        latencyMs,
      );
    }
    const res = await this.http.postJson(url, body, headers, opts.signal, raw ? checkComplete : checkChat);
    return fromJson(res.body, raw, res.attempts, res.latencyMs);
  }

  /**
   * The JSON body of one request (not streamed) and whether it goes to the legacy `/completions` endpoint
   * (`raw`) rather than `/chat/completions`. Batch delivery (src/batch/) sends the same bodies in a file.
   */
  request(prompt: Prompt, opts: GenerateOptions = {}): { raw: boolean; body: Record<string, unknown> } {
    const ep = this.ep;
    const common = opts.params ? this.paramsBody(mergeParams(ep.params, opts.params)) : this.baseParams;
    const raw = prompt.kind === 'completion' && ep.completionFallback !== 'prefill';
    // Fields are added one by one, not spread: this runs once per request.
    const body: Record<string, unknown> = Object.assign({}, common);
    if (raw) {
      body['prompt'] = prompt.text;
      if (opts.logprobs) {
        body['logprobs'] = opts.logprobs.top ?? 1;
        body['echo'] = opts.logprobs.echo ?? false;
      }
    } else {
      body['messages'] = chatMessages(prompt, ep);
      if (opts.jsonMode) body['response_format'] = { type: 'json_object' };
      if (opts.logprobs) {
        body['logprobs'] = true;
        body['top_logprobs'] = opts.logprobs.top ?? 0;
      }
      if (prompt.kind === 'chat' && prompt.continueFinal) {
        body['continue_final_message'] = true;
        body['add_generation_prompt'] = false;
      }
    }
    Object.assign(body, ep.extraBody);
    return { raw, body };
  }

  private paramsBody(p: SamplingParams): Record<string, unknown> {
    return compact({
      model: this.ep.model,
      temperature: p.temperature,
      max_tokens: p.maxTokens,
      top_p: p.topP,
      stop: p.stop,
      seed: p.seed,
    });
  }
}

export const openaiProvider = httpProvider({
  name: 'openai',
  description:
    'OpenAI-compatible chat + completions API (OpenAI, vLLM, Ollama, llama.cpp server, TGI, Together...)',
  defaults: { baseUrl: 'https://api.openai.com/v1', apiKeyEnv: 'OPENAI_API_KEY' },
  make: (ep) => new OpenAITarget(ep),
});

interface Choice {
  message?: {
    content?: string | null;
    reasoning_content?: string | null;
    refusal?: string | null;
    tool_calls?: unknown[] | null;
  };
  text?: string;
  delta?: { content?: string | null };
  finish_reason?: string | null;
  logprobs?: {
    tokens?: string[];
    token_logprobs?: (number | null)[];
    /** Legacy completions: one `{token: logprob}` map per position. */
    top_logprobs?: (Record<string, number> | null)[] | null;
    content?: {
      token: string;
      logprob: number;
      top_logprobs?: { token: string; logprob: number }[];
    }[];
  } | null;
}

interface CompletionBody {
  choices?: Choice[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  model?: string;
  error?: unknown;
}

/**
 * A JSON answer is complete when its first choice says why it stopped: OpenAI-compatible servers always
 * send `finish_reason` with a finished answer, so a body without one was cut or is not an answer.
 */
function checkComplete(body: unknown): void {
  const choice = (body as CompletionBody)?.choices?.[0];
  if (!choice) throw new TargetError('response has no choices', 'protocol');
  if (!choice.finish_reason)
    throw new TargetError('response has no finish_reason: the answer may be incomplete', 'protocol');
}

/**
 * A chat answer also says what it is: `content: null` with no refusal and no tool calls is no answer (like an
 * empty 200), never an empty reply to store and judge; a protocol error, retried.
 */
function checkChat(body: unknown): void {
  checkComplete(body);
  const message = (body as CompletionBody).choices?.[0]?.message;
  if (message?.content !== null && message?.content !== undefined) return;
  if (typeof message?.refusal === 'string') return;
  if (Array.isArray(message?.tool_calls) && message.tool_calls.length > 0) return;
  throw new TargetError(
    'response has no content (content: null, no refusal, no tool calls): not an answer',
    'protocol',
  );
}

/**
 * A complete answer body (from a batch's output file) as a Generation, checked as a live answer is: throws a
 * 'protocol' TargetError for an answer that is not complete.
 */
export function answerFromBody(body: unknown, raw: boolean, attempts: number, latencyMs: number): Generation {
  if (raw) checkComplete(body);
  else checkChat(body);
  return fromJson(body, raw, attempts, latencyMs);
}

function fromJson(body: unknown, raw: boolean, attempts: number, latencyMs: number): Generation {
  const b = body as CompletionBody;
  const choice = b?.choices?.[0];
  if (!choice) throw new TargetError('response has no choices', 'protocol', undefined, attempts);
  // A structured refusal (OpenAI's `refusal` field, content null) is the answer a judge must see.
  const text = raw ? choice.text : (choice.message?.content ?? choice.message?.refusal);
  if (text !== undefined && text !== null && typeof text !== 'string') {
    throw new TargetError('response content is not a string', 'protocol', undefined, attempts);
  }
  return {
    text: text ?? '',
    finishReason: choice.finish_reason ?? undefined,
    usage: usageOf(b.usage),
    latencyMs,
    attempts,
    cached: false,
    model: b.model,
    logprobs: logprobsOf(choice),
  };
}

function fromStream(events: unknown[], raw: boolean, attempts: number, latencyMs: number): Generation {
  let text = '';
  let finishReason: string | undefined;
  let usage: Usage | undefined;
  let model: string | undefined;
  for (const e of events as CompletionBody[]) {
    const choice = e?.choices?.[0];
    if (choice) {
      text += (raw ? choice.text : choice.delta?.content) ?? '';
      if (choice.finish_reason) finishReason = choice.finish_reason;
    }
    if (e?.usage) usage = usageOf(e.usage);
    if (e?.model) model = e.model;
  }
  return { text, finishReason, usage, latencyMs, attempts, cached: false, model };
}

function usageOf(u: CompletionBody['usage']): Usage | undefined {
  if (!u) return undefined;
  return { promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens };
}

function logprobsOf(choice: Choice): TokenLogprob[] | undefined {
  const lp = choice.logprobs;
  if (!lp) return undefined;
  if (lp.tokens && lp.token_logprobs) {
    return lp.tokens.map((token, i) => {
      const top = lp.top_logprobs?.[i];
      return {
        token,
        logprob: lp.token_logprobs?.[i] ?? null,
        ...(top ? { top: Object.entries(top).map(([t, l]) => ({ token: t, logprob: l })) } : {}),
      };
    });
  }
  if (lp.content) {
    return lp.content.map((c) => ({
      token: c.token,
      logprob: c.logprob,
      ...(c.top_logprobs ? { top: c.top_logprobs.map((t) => ({ token: t.token, logprob: t.logprob })) } : {}),
    }));
  }
  return undefined;
}
