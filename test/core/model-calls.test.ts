import { createServer, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockServer } from '../../src/target/mock-server.js';
import { RunStore } from '../../src/store/store.js';
import { ModelCalls } from '../../src/service/model-calls.js';
import { AdaptiveLimiter } from '../../src/util/limiter.js';
import { createTarget } from '../../src/target/create.js';
import { runCli, tempDir, writeFile } from '../helpers/cli.js';

/**
 * The model-call service and run integrity (issue 10, items 1, 2 and 4), each against a real loopback
 * server that injects the fault, asserting what the store holds and how the CLI exits.
 */

const dir = tempDir();
let target: MockServer;
let judge: MockServer;

beforeAll(async () => {
  target = await new MockServer({ script: 'comply' }).start();
  judge = await new MockServer({ script: 'judge', latencyMs: 30 }).start();
  writeFile(
    dir,
    'goals.jsonl',
    Array.from({ length: 8 }, (_, i) => JSON.stringify({ goal: `goal number ${i}` })).join('\n') + '\n',
  );
});
afterAll(async () => {
  await target.close();
  await judge.close();
});

function config(name: string, targetUrl: string, extra = '', targetExtra = ''): string {
  return writeFile(
    dir,
    name,
    `dataset: {path: goals.jsonl}
attacks: [plain]
targets:
  - id: openai:victim
    base_url: ${targetUrl}
    retries: 1
    backoff_s: 0.01
${targetExtra}models:
  judge: {id: "openai:judge-model", base_url: "${judge.url}", concurrency: 1, timeout_s: 1}
judges:
  - keyword
  - qi2023: {model: judge}
${extra}`,
  );
}

function summaryOf(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as Record<string, unknown>;
}

describe('every judge call goes through the service', () => {
  it('is cached, logged with role judge, counted per role with cost, and never queued into a timeout', async () => {
    const db = path.join(dir, 'judge.db');
    const cfg = config(
      'judge.yaml',
      target.url,
      'prices:\n  "openai:judge-model": {input_per_mtok: 1000, output_per_mtok: 2000}\n',
    );
    const before = judge.stats.requests;
    // The judge endpoint takes one call at a time with a 1 s first-byte timeout; 8 verdicts queue for it.
    // Queue time never counts: every verdict arrives.
    judge.setLatency(300); // 8 x 300 ms in the queue: far past the 1 s timeout, were queue time counted
    const first = await runCli(['run', cfg, '--db', db, '--json', '--no-progress']);
    judge.setLatency(30);
    expect(first.code, first.stderr).toBe(0);
    const s1 = summaryOf(first.stdout);
    expect(s1['status']).toBe('complete');
    expect(judge.stats.requests - before).toBe(8);
    const usage = s1['usage'] as {
      role: string;
      requests: number;
      cost_usd: number;
      prompt_tokens: number;
    }[];
    const j = usage.find((u) => u.role === 'judge');
    expect(j?.requests).toBe(8);
    expect(j?.prompt_tokens).toBeGreaterThan(0);
    expect(j?.cost_usd).toBeGreaterThan(0);
    expect(s1['cost_usd']).toBeCloseTo(j?.cost_usd ?? -1, 6);

    // --fresh makes a new run; every judge answer comes from the cache, none is sent again.
    const again = await runCli(['run', cfg, '--db', db, '--json', '--no-progress', '--fresh']);
    expect(again.code, again.stderr).toBe(0);
    expect(judge.stats.requests - before).toBe(8);

    const store = RunStore.open(db);
    const run = store.listRuns().find((r) => r.id === s1['run_id']);
    const summary = store.requestSummary(run?.id as string);
    expect(summary.find((r) => r.role === 'judge')).toMatchObject({ requests: 8, cached: 0 });
    expect(summary.find((r) => r.role === 'target')).toMatchObject({ requests: 8 });
    const fresh = store.listRuns().find((r) => r.id !== s1['run_id']);
    expect(store.requestSummary(fresh?.id as string).find((r) => r.role === 'judge')).toMatchObject({
      requests: 8,
      cached: 8,
      cost_usd: 0,
    });
    store.close();

    const show = await runCli(['runs', 'show', String(s1['run_id']), '--db', db, '--json']);
    const info = JSON.parse(show.stdout) as { requests: { role: string; cost_usd: number }[] };
    expect(info.requests.some((r) => r.role === 'judge' && r.cost_usd > 0)).toBe(true);
  });
});

/** A server whose every answer is decided by the test: streams cut short, answers without an end, big bodies. */
async function scripted(handle: (prompt: string, res: ServerResponse, stream: boolean) => void): Promise<{
  url: string;
  hits: () => number;
  close: () => Promise<void>;
}> {
  let hits = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      hits++;
      const b = JSON.parse(body) as { messages: { content: string }[]; stream?: boolean };
      handle(b.messages.at(-1)?.content ?? '', res, b.stream === true);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    hits: () => hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const chunk = (content: string, finish: string | null = null): string =>
  `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;

describe('only complete answers count', () => {
  it('a stream cut before [DONE], or an answer with no finish reason, is an error: retried, never cached or judged', async () => {
    const srv = await scripted((prompt, res, stream) => {
      if (stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chunk('Sure, step 1: '));
        res.end(chunk('and then')); // no finish reason, no [DONE]
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: 'Sure, half' } }] }),
      );
    });
    for (const stream of [true, false]) {
      const db = path.join(dir, `cut-${stream}.db`);
      const cfg = config(`cut-${stream}.yaml`, srv.url, '', `    stream: ${stream}\n`);
      const r = await runCli(['run', cfg, '--db', db, '--json', '--no-progress']);
      expect(r.code).toBe(1);
      const s = summaryOf(r.stdout);
      expect(['incomplete', 'failed']).toContain(s['status']);
      const store = RunStore.open(db);
      const id = String(s['run_id']);
      const cases = [...store.iterateCases(id)];
      expect(cases.length).toBeGreaterThan(0);
      expect(cases.every((c) => c.status === 'error' && c.error_kind === 'protocol')).toBe(true);
      expect(cases[0]?.error).toMatch(stream ? /ended before the answer was complete/ : /no finish_reason/);
      expect(cases.every((c) => (c.attempts ?? 0) === 2)).toBe(true);
      expect([...store.iterateVerdicts(id)]).toEqual([]);
      const cacheRows = (
        store as unknown as { db: { prepare: (s: string) => { get: () => { n: number } } } }
      ).db
        .prepare("SELECT COUNT(*) AS n FROM cache WHERE target = 'openai:victim'")
        .get().n;
      expect(cacheRows).toBe(0);
      store.close();
    }
    await srv.close();
  });

  it('an answer above the size cap is cut at the cap and flagged, and not cached', async () => {
    const big = 'A'.repeat(300_000) + 'é'.repeat(100);
    const srv = await scripted((_p, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          choices: [{ index: 0, message: { role: 'assistant', content: big }, finish_reason: 'stop' }],
        }),
      );
    });
    const db = path.join(dir, 'cap.db');
    const cfg = config('cap.yaml', srv.url, 'max_response_bytes: 1000\n');
    const r = await runCli(['run', cfg, '--db', db, '--json', '--no-progress']);
    expect(r.code, r.stderr).toBe(0);
    const store = RunStore.open(db);
    const cases = [...store.iterateCases(String(summaryOf(r.stdout)['run_id']))];
    expect(cases.every((c) => c.finish_reason === 'size_cap')).toBe(true);
    expect(cases.every((c) => Buffer.byteLength(c.response ?? '') <= 1000)).toBe(true);
    store.close();
    await srv.close();
  });

  it('a slow stream that keeps sending is not cut by the first-byte timeout; a stalled one is, by the idle timeout', async () => {
    const srv = await scripted((prompt, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const stall = prompt.includes('number 0');
      let i = 0;
      const tick = setInterval(() => {
        if (res.destroyed) return clearInterval(tick);
        if (stall && i === 2) return; // goes silent
        res.write(chunk(`part ${i} `));
        if (++i === 8) {
          clearInterval(tick);
          res.write(chunk('', 'stop'));
          res.end('data: [DONE]\n\n');
        }
      }, 200);
    });
    const db = path.join(dir, 'slow.db');
    const cfg = config(
      'slow.yaml',
      srv.url,
      '',
      '    stream: true\n    timeout_s: 0.5\n    idle_timeout_s: 0.6\n',
    );
    const r = await runCli(['run', cfg, '--db', db, '--json', '--no-progress', '--allow-errors']);
    expect(r.code, r.stderr).toBe(0);
    const s = summaryOf(r.stdout);
    expect(s['status']).toBe('incomplete');
    const store = RunStore.open(db);
    const cases = [...store.iterateCases(String(s['run_id']))];
    const stalled = cases.filter((c) => c.goal === 'goal number 0');
    const others = cases.filter((c) => c.goal !== 'goal number 0');
    expect(stalled[0]).toMatchObject({ status: 'error', error_kind: 'timeout' });
    expect(stalled[0]?.error).toMatch(/stalled/);
    // 1.6 s of streaming per answer, over three times the first-byte timeout: all complete.
    expect(others.length).toBe(7);
    expect(others.every((c) => c.status === 'ok' && (c.response ?? '').includes('part 7'))).toBe(true);
    store.close();
    await srv.close();
  });
});

describe('a failed run says so', () => {
  it('every request failing opens the circuit: status failed, exit 1, errors grouped, resumable', async () => {
    const down = await new MockServer({ faults: [{ kind: '503' }] }).start();
    const db = path.join(dir, 'down.db');
    const cfg = config('down.yaml', down.url, 'circuit_breaker: 3\n', '    concurrency: 1\n');
    const r = await runCli(['run', cfg, '--db', db, '--json', '--no-progress']);
    expect(r.code).toBe(1);
    const s = summaryOf(r.stdout);
    expect(s['status']).toBe('failed');
    expect((s['stopped'] as { kind: string }).kind).toBe('circuit');
    expect(r.stderr).toMatch(/circuit open for openai:victim: 3 consecutive failed calls/);
    const groups = s['error_groups'] as { kind: string; count: number; example: string }[];
    expect(groups[0]).toMatchObject({ kind: 'target:http', count: 3 });
    expect(groups[0]?.example).toMatch(/HTTP 503/);
    // The circuit stopped it after 3 cases x 2 attempts, not 8 x 2.
    expect(down.stats.requests).toBe(6);
    const store = RunStore.open(db);
    expect(store.getRun(String(s['run_id']))?.status).toBe('failed');
    store.close();

    // Once the endpoint works again the same command finishes the run.
    down.setFaults([]);
    const resumed = await runCli(['run', cfg, '--db', db, '--json', '--no-progress']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(summaryOf(resumed.stdout)).toMatchObject({ status: 'complete', cases_done: 8, errors: 0 });
    await down.close();
  });

  it('some cases in error: status incomplete, exit 1, or 0 with --allow-errors', async () => {
    const flaky = await new MockServer({
      script: 'comply',
      faults: [{ kind: '500', match: /number [03]/ }],
    }).start();
    const db = path.join(dir, 'flaky.db');
    const cfg = config('flaky.yaml', flaky.url);
    const r = await runCli(['run', cfg, '--db', db, '--json', '--no-progress']);
    expect(r.code).toBe(1);
    expect(summaryOf(r.stdout)).toMatchObject({ status: 'incomplete', cases_done: 6, errors: 2 });
    const ok = await runCli(['run', cfg, '--db', db, '--json', '--no-progress', '--allow-errors']);
    expect(ok.code).toBe(0);
    await flaky.close();
  });

  it('--max-cost stops the run cleanly and a larger budget resumes it', async () => {
    const db = path.join(dir, 'cost.db');
    const cfg = config(
      'cost.yaml',
      target.url,
      'prices:\n  "openai:victim": {input_per_mtok: 100000, output_per_mtok: 100000}\n',
      '    concurrency: 1\n',
    );
    const r = await runCli(['run', cfg, '--db', db, '--json', '--no-progress', '--max-cost', '2']);
    expect(r.code).toBe(1);
    const s = summaryOf(r.stdout);
    expect(s['status']).toBe('incomplete');
    expect((s['stopped'] as { kind: string }).kind).toBe('budget');
    const done = Number(s['cases_done']);
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(8);
    const resumed = await runCli(['run', cfg, '--db', db, '--json', '--no-progress', '--max-cost', '1000']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(summaryOf(resumed.stdout)).toMatchObject({ status: 'complete', cases_done: 8, skipped: done });
  });
});

describe('per-endpoint limits', () => {
  it('halves concurrency on 429 and grows it back after successes', async () => {
    const srv = await new MockServer({
      script: 'comply',
      faults: [{ kind: '429', times: 2, retryAfter: 0 }],
    }).start();
    const calls = new ModelCalls();
    const t = calls.wrap(
      createTarget(
        { id: 'openai:m', base_url: srv.url, concurrency: 8, backoff_s: 0.01 },
        { env: {}, baseDir: dir },
        't',
      ),
      'target',
      'target',
    );
    const limiter = (calls as unknown as { endpoints: Map<string, { limiter: AdaptiveLimiter }> }).endpoints
      .values()
      .next().value?.limiter as AdaptiveLimiter;
    await t.generate({ kind: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    expect(limiter.current).toBe(2); // 8 -> 4 -> 2 after two 429s
    for (let i = 0; i < 10; i++)
      await t.generate({ kind: 'chat', messages: [{ role: 'user', content: `x${i}` }] });
    expect(limiter.current).toBeGreaterThan(2);
    expect(calls.usageByRole()[0]).toMatchObject({ role: 'target', requests: 11, errors: 0 });
    await t.close?.();
    await srv.close();
  });

  it('an rpm budget holds requests beyond it until the window frees a slot', async () => {
    const limiter = new AdaptiveLimiter({ max: 10, rpm: 3 });
    let started = 0;
    for (let i = 0; i < 5; i++) void limiter.acquire().then(() => started++);
    await new Promise((r) => setTimeout(r, 20));
    expect(started).toBe(3);
    limiter.release();
    await new Promise((r) => setTimeout(r, 20));
    expect(started).toBe(3); // a free slot is not enough: the minute's budget is spent
  });
});
