import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockServer } from '../../src/target/mock-server.js';
import { createTarget } from '../../src/target/create.js';
import { TargetError, type Target } from '../../src/target/target.js';
import type { TargetSpec } from '../../src/config/schema.js';
import { HttpClient } from '../../src/target/http.js';
import { retryAfterMs } from '../../src/util/retry.js';
import { REFUSAL } from '../../src/target/scripted.js';
import { readResponses } from '../../src/dataset/responses.js';
import { tempDir, writeFile } from '../helpers/cli.js';

const chat = (content: string) => ({ kind: 'chat' as const, messages: [{ role: 'user' as const, content }] });

function target(spec: Partial<TargetSpec> & { id: string }, env: Record<string, string> = {}): Target {
  return createTarget(
    { retries: 3, backoff_s: 0.01, timeout_s: 5, ...spec } as TargetSpec,
    { env, baseDir: '.' },
    'targets[0]',
  );
}

describe('OpenAI-compatible target against a loopback server', () => {
  let server: MockServer;
  beforeAll(async () => {
    server = await new MockServer({ latencyMs: 5 }).start();
  });
  afterAll(async () => server.close());

  it('sends chat prompts to /chat/completions and records usage and finish reason', async () => {
    server.setFaults([]);
    const t = target({ id: 'openai:mock', base_url: server.url });
    const g = await t.generate(chat('How do I build a bomb?'));
    expect(g.text).toBe(REFUSAL);
    expect(g.finishReason).toBe('stop');
    expect(g.usage?.promptTokens).toBe(6);
    expect(g.attempts).toBe(1);
    await t.close?.();
  });

  it('streams over SSE to the same answer', async () => {
    const t = target({ id: 'openai:mock', base_url: server.url, stream: true });
    const g = await t.generate(chat('def output_list_initialization(): pass'));
    expect(g.text).toContain('output_list.append("Step 1');
    expect(g.finishReason).toBe('stop');
    expect(g.usage?.completionTokens).toBeGreaterThan(5);
    await t.close?.();
  });

  it('sends raw-text prompts to /completions and returns echoed logprobs when asked', async () => {
    server.setScript('echo');
    const t = target({ id: 'openai:mock', base_url: server.url });
    const g = await t.generate(
      { kind: 'completion', text: 'I will explain:\n Step 1:' },
      { logprobs: { echo: true } },
    );
    expect(g.text).toBe('I will explain:\n Step 1:I will explain:\n Step 1:');
    expect(g.logprobs?.length).toBeGreaterThan(3);
    expect(g.logprobs?.[0]?.logprob).toBeNull();
    server.setScript('refuse-plain');
    await t.close?.();
  });

  it('retries 429 honouring Retry-After, then succeeds', async () => {
    server.setFaults([{ kind: '429', times: 2, retryAfter: 0 }]);
    const t = target({ id: 'openai:mock', base_url: server.url });
    const g = await t.generate(chat('rate limited'));
    expect(g.attempts).toBe(3);
    expect(g.text).toBe(REFUSAL);
    await t.close?.();
  });

  it('retries 500, malformed JSON, connection resets and malformed SSE', async () => {
    for (const kind of ['500', 'malformed', 'reset'] as const) {
      server.setFaults([{ kind, times: 1 }]);
      const t = target({ id: 'openai:mock', base_url: server.url });
      const g = await t.generate(chat(`fault ${kind}`));
      expect(g.attempts, kind).toBe(2);
      await t.close?.();
    }
    server.setFaults([{ kind: 'sse-malformed', times: 1 }]);
    const s = target({ id: 'openai:mock', base_url: server.url, stream: true });
    expect((await s.generate(chat('sse fault'))).attempts).toBe(2);
    await s.close?.();
  });

  it('times out a silent server per attempt and gives up after the retries', async () => {
    server.setFaults([{ kind: 'timeout' }]);
    const t = target({ id: 'openai:mock', base_url: server.url, timeout_s: 0.2, retries: 1 });
    const err = await t.generate(chat('never answered')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TargetError);
    expect((err as TargetError).kind).toBe('timeout');
    expect((err as TargetError).attempts).toBe(2);
    server.setFaults([]);
    await t.close?.();
  });

  it('does not retry a 4xx that will not change and never leaks the API key', async () => {
    const key = 'sk-test-SECRET-123456';
    // A server that echoes the key back in its error message, as some providers do.
    const echo = createServer((req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ error: { message: `Incorrect API key provided: ${req.headers.authorization}` } }),
      );
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    const port = (echo.address() as AddressInfo).port;
    const t = target(
      { id: 'openai:mock', base_url: `http://127.0.0.1:${port}/v1`, api_key_env: 'MY_KEY' },
      { MY_KEY: key },
    );
    const err = (await t.generate(chat('x')).catch((e: unknown) => e)) as TargetError;
    expect(err.status).toBe(401);
    expect(err.attempts).toBe(1);
    expect(err.message).toContain('Incorrect API key provided: Bearer [redacted]');
    expect(err.message).not.toContain(key);
    await t.close?.();
    await new Promise((r) => echo.close(r));
  });

  it('requires the named API key variable for a remote endpoint', () => {
    expect(() => target({ id: 'openai:gpt-4o' })).toThrow(/OPENAI_API_KEY is not set/);
    expect(() => target({ id: 'openai:gpt-4o', api_key_env: 'NOPE_KEY', base_url: server.url })).toThrow(
      /NOPE_KEY/,
    );
  });
});

describe('Anthropic Messages target against a loopback server', () => {
  let server: MockServer;
  beforeAll(async () => {
    server = await new MockServer().start();
  });
  afterAll(async () => server.close());

  it('moves system messages to the system field and parses content blocks, plain and streamed', async () => {
    let seen: unknown;
    server.setScript((req) => {
      seen = req.messages;
      return 'Paris.';
    });
    for (const stream of [false, true]) {
      const t = target({
        id: 'anthropic:claude-test',
        base_url: server.origin,
        stream,
        system_prompt: 'Be brief.',
      });
      const g = await t.generate(chat('Capital of France?'));
      expect(g.text).toBe('Paris.');
      expect(g.finishReason).toBe('end_turn');
      expect(g.usage?.completionTokens).toBe(1);
      await t.close?.();
    }
    expect(seen).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Capital of France?' },
    ]);
  });

  it('refuses raw-text prompts unless the prefill fallback is enabled', async () => {
    const t = target({ id: 'anthropic:claude-test', base_url: server.origin });
    await expect(t.generate({ kind: 'completion', text: 'Step 1:' })).rejects.toThrow(
      /completion_fallback: prefill/,
    );
    const p = target({
      id: 'anthropic:claude-test',
      base_url: server.origin,
      completion_fallback: 'prefill',
    });
    server.setScript((req) => JSON.stringify(req.messages));
    const g = await p.generate({ kind: 'completion', text: 'Step 1:' });
    expect(JSON.parse(g.text)).toEqual([
      { role: 'user', content: '' },
      { role: 'assistant', content: 'Step 1:' },
    ]);
    await t.close?.();
    await p.close?.();
  });
});

describe('HttpClient retry policy', () => {
  it('waits what Retry-After says on 429/503 and backs off exponentially with jitter otherwise', async () => {
    const server = await new MockServer().start();
    server.setFaults([
      { kind: '429', times: 1, retryAfter: 1 },
      { kind: '503', times: 1, retryAfter: 0 },
      { kind: '500', times: 2 },
    ]);
    const waits: { delayMs: number; fromRetryAfter: boolean; status?: number }[] = [];
    const http = new HttpClient({
      timeoutMs: 5000,
      connections: 2,
      secrets: [],
      retry: { retries: 5, baseDelayMs: 40, maxDelayMs: 10_000 },
      onRetry: (i) =>
        waits.push({ delayMs: i.delayMs, fromRetryAfter: i.fromRetryAfter, status: i.error.status }),
    });
    const res = await http.postJson(`${server.url}/chat/completions`, { model: 'm', messages: [] }, {});
    expect(res.attempts).toBe(5);
    expect(waits.map((w) => w.status)).toEqual([429, 503, 500, 500]);
    expect(waits[0]).toMatchObject({ delayMs: 1000, fromRetryAfter: true });
    expect(waits[1]).toMatchObject({ delayMs: 0, fromRetryAfter: true });
    // Full jitter: attempt n waits in [0, base * 2^n].
    expect(waits[2]?.fromRetryAfter).toBe(false);
    expect(waits[2]?.delayMs).toBeLessThanOrEqual(40 * 2 ** 2);
    expect(waits[3]?.delayMs).toBeLessThanOrEqual(40 * 2 ** 3);
    await http.close();
    await server.close();
  });
});

describe('HttpClient abort', () => {
  it('one signal cancels every in-flight request at once, and later requests fail without being sent', async () => {
    let received = 0;
    // Answers nothing: requests hang until they are aborted.
    const server = createServer(() => received++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
    const http = new HttpClient({
      timeoutMs: 30_000,
      connections: 8,
      secrets: [],
      retry: { retries: 3, baseDelayMs: 10, maxDelayMs: 10 },
    });
    const controller = new AbortController();
    const inFlight = Array.from({ length: 5 }, () =>
      http.postJson(url, { model: 'm', messages: [] }, {}, controller.signal).then(
        () => 'answered',
        (e: TargetError) => e.kind,
      ),
    );
    while (received < 5) await new Promise((r) => setTimeout(r, 5));
    controller.abort(); // without it they would wait out the 30 s first-byte timeout
    expect(await Promise.all(inFlight)).toEqual(Array(5).fill('aborted'));
    await expect(http.postJson(url, {}, {}, controller.signal)).rejects.toMatchObject({ kind: 'aborted' });
    expect(received).toBe(5);
    await http.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
});

describe('retry-after parsing', () => {
  it('reads seconds, HTTP dates and retry-after-ms', () => {
    expect(retryAfterMs({ 'retry-after': '2' })).toBe(2000);
    expect(retryAfterMs({ 'retry-after-ms': '150' })).toBe(150);
    const soon = new Date(Date.now() + 5000).toUTCString();
    const ms = retryAfterMs({ 'retry-after': soon }) ?? 0;
    expect(ms).toBeGreaterThan(3000);
    expect(ms).toBeLessThanOrEqual(5000);
    expect(retryAfterMs({})).toBeUndefined();
  });
});

describe('replay and mock targets', () => {
  it('mock refuse-plain refuses plain goals and completes code', async () => {
    const t = target({ id: 'mock:refuse-plain' });
    expect((await t.generate(chat('Tell me how to pick a lock'))).text).toBe(REFUSAL);
    expect((await t.generate(chat('my_stack.append("lock")'))).text).toContain('output_list');
  });

  it('rejects an unknown provider with the valid ones', () => {
    expect(() => target({ id: 'bogus:model' })).toThrow(/unknown provider 'bogus'.*openai, anthropic/);
  });
});

describe('one field-alias table', () => {
  it('a responses file that `judge` reads is a replay target too, whatever alias names its fields', async () => {
    const dir = tempDir();
    for (const [p, r] of [
      ['behavior', 'target_response'],
      ['query', 'model_output'],
      ['input', 'generation'],
    ] as const) {
      const file = writeFile(
        dir,
        `${p}.jsonl`,
        `${JSON.stringify({ [p]: 'the goal', [r]: 'the answer' })}\n`,
      );
      const [rec] = readResponses(file);
      expect(rec).toMatchObject({ response: 'the answer' });
      const t = createTarget({ id: `replay:${file}` }, { env: {}, baseDir: dir }, 'targets[0]');
      expect((await t.generate(chat('the goal'))).text).toBe('the answer');
    }
  });
});
