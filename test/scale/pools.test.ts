import { readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MockServer } from '../../src/target/mock-server.js';
import { RunStore } from '../../src/store/store.js';
import { ModelCalls } from '../../src/service/model-calls.js';
import { createTarget } from '../../src/target/create.js';
import { ReplicaPool } from '../../src/target/pool.js';
import { requestKey } from '../../src/service/cache-key.js';
import { limitsOf } from '../../src/runner/plan.js';
import type { TargetSpec } from '../../src/config/schema.js';
import type { Target } from '../../src/target/target.js';
import type { Prompt } from '../../src/types.js';
import type { InputError } from '../../src/errors.js';
import type { ScriptRequest } from '../../src/target/scripted.js';
import { runCli, tempDir, writeFile } from '../helpers/cli.js';
import { GatedServer, lastJson } from './helpers.js';

/** Replica pools (issue 24 item 2) against loopback OpenAI-compatible servers. */

const dir = tempDir('refusenik-pools-');
const env = { env: {}, baseDir: dir };
const chat = (text: string): Prompt => ({ kind: 'chat', messages: [{ role: 'user', content: text }] });
const opened: Target[] = [];

function pool(spec: Partial<TargetSpec> & { base_url: string[] }): ReplicaPool {
  const t = createTarget({ id: 'openai:pooled', ...spec } as TargetSpec, env, 'targets[0]');
  opened.push(t);
  expect(t).toBeInstanceOf(ReplicaPool);
  return t as ReplicaPool;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((t) => t.close?.()));
});

describe('routing', () => {
  let servers: GatedServer[] = [];
  beforeAll(async () => {
    servers = await Promise.all([0, 1, 2].map(() => new GatedServer().start()));
  });
  afterAll(async () => Promise.all(servers.map((s) => s.close())));

  it('sends each request to the replica with the fewest outstanding requests', async () => {
    const [a, b, c] = servers as [GatedServer, GatedServer, GatedServer];
    const p = pool({ base_url: [a.url, b.url, c.url], concurrency: 4 });
    const pending: Promise<unknown>[] = [];
    const send = (n: number): void => {
      for (let i = 0; i < n; i++) pending.push(p.generate(chat(`q${pending.length}`)));
    };
    // Three requests on three idle replicas: one each.
    send(3);
    await Promise.all([a.until(1), b.until(1), c.until(1)]);
    expect([a.held.length, b.held.length, c.held.length]).toEqual([1, 1, 1]);
    // Three more: still one more each (1,1,1 outstanding → 2,2,2).
    send(3);
    await Promise.all([a.until(2), b.until(2), c.until(2)]);
    expect([a.held.length, b.held.length, c.held.length]).toEqual([2, 2, 2]);
    // A answers both of its requests: it now has none outstanding, B and C two each, so the next two go to A.
    a.releaseAll();
    await expect.poll(() => p.state()[0]?.outstanding).toBe(0);
    send(2);
    await a.until(4);
    expect([a.held.length, b.held.length, c.held.length]).toEqual([2, 2, 2]);
    expect(p.state().map((r) => r.outstanding)).toEqual([2, 2, 2]);
    for (const s of servers) s.releaseAll();
    const answers = (await Promise.all(pending)) as { text: string; replica: string }[];
    expect(answers.map((g) => g.text)).toEqual(answers.map((_, i) => `answer to q${i}`));
    expect(new Set(answers.map((g) => g.replica))).toEqual(new Set([a.url, b.url, c.url]));
    expect(p.state().map((r) => r.answered)).toEqual([4, 2, 2]);
  });

  it('limits each replica to its own concurrency, and the service to their sum', async () => {
    const [a, b] = servers as [GatedServer, GatedServer];
    const ra = a.received;
    const rb = b.received;
    const spec = {
      id: 'openai:pooled',
      endpoints: [{ base_url: a.url, concurrency: 1 }, b.url],
      concurrency: 2,
    } as TargetSpec;
    expect(limitsOf(spec).concurrency).toBe(3);
    const p = createTarget(spec, env, 'targets[0]') as ReplicaPool;
    opened.push(p);
    expect(p.concurrency).toBe(3);
    const pending = Array.from({ length: 6 }, (_, i) => p.generate(chat(`limit ${i}`)));
    await Promise.all([a.until(ra + 1), b.until(rb + 2)]);
    // A takes one at a time (its own concurrency), B two; the other three wait for a slot.
    expect(a.held.length).toBe(1);
    expect(b.held.length).toBe(2);
    while (a.received - ra + (b.received - rb) < 6) {
      a.releaseAll();
      b.releaseAll();
      await new Promise((r) => setImmediate(r));
      expect(a.held.length).toBeLessThanOrEqual(1);
      expect(b.held.length).toBeLessThanOrEqual(2);
    }
    a.releaseAll();
    b.releaseAll();
    expect((await Promise.all(pending)).length).toBe(6);
  });
});

describe('a failing replica', () => {
  it('is skipped while its breaker is open, and probed again after its cooldown (half-open)', async () => {
    const good = await new MockServer({ script: 'comply' }).start();
    const flaky = await new MockServer({ script: 'comply', faults: [{ kind: '500', times: 3 }] }).start();
    try {
      const p = pool({
        base_url: [flaky.url, good.url],
        replica_failures: 3,
        replica_cooldown_s: 0.05,
        backoff_s: 0.001,
      });
      // Three answers: each request tries the flaky replica first (it has nothing outstanding and its turn
      // comes), fails over to the good one; after three failures its breaker opens.
      for (let i = 0; i < 3; i++) {
        const g = await p.generate(chat(`fail ${i}`));
        expect(g.replica).toBe(good.url);
      }
      expect(flaky.stats.requests).toBe(3);
      expect(p.state()[0]?.breaker).not.toBe('closed');
      // While open, every request goes to the good replica.
      const before = flaky.stats.requests;
      if (p.state()[0]?.breaker === 'open') {
        await p.generate(chat('while open'));
        expect(flaky.stats.requests).toBe(before);
      }
      // After the cooldown one probe goes to it; it answers (its faults are spent) and rejoins the rotation.
      await new Promise((r) => setTimeout(r, 80));
      const answeredBy = new Set<string>();
      for (let i = 0; i < 4; i++) answeredBy.add((await p.generate(chat(`after ${i}`))).replica as string);
      expect(answeredBy).toContain(flaky.url);
      expect(p.state()[0]?.breaker).toBe('closed');
    } finally {
      await good.close();
      await flaky.close();
    }
  });

  it('fails over at once from a replica that refuses connections, and opens its breaker on the first refusal', async () => {
    const good = await new MockServer({ script: 'comply' }).start();
    const dead = await new MockServer({ script: 'comply' }).start();
    const deadUrl = dead.url;
    await dead.close();
    try {
      const p = pool({ base_url: [deadUrl, good.url], replica_cooldown_s: 60, retries: 0 });
      const g = await p.generate(chat('hello'));
      expect(g.replica).toBe(good.url);
      expect(g.attempts).toBe(2);
      expect(p.state()[0]).toMatchObject({ breaker: 'open', failed: 1 });
      for (let i = 0; i < 5; i++) expect((await p.generate(chat(`more ${i}`))).attempts).toBe(1);
    } finally {
      await good.close();
    }
  });
});

describe('the response cache', () => {
  it('answers from the cache whichever replica answered first, and keys a pool by its replicas, not their order', async () => {
    const a = await new MockServer({ script: 'comply' }).start();
    const b = await new MockServer({ script: 'comply' }).start();
    const store = RunStore.open(':memory:');
    try {
      const calls = new ModelCalls().bind(store, undefined, true);
      const p1 = pool({ base_url: [a.url, b.url] });
      const p2 = pool({ base_url: [b.url, a.url] });
      expect(requestKey(p1.endpoint, chat('x'), {})).toBe(requestKey(p2.endpoint, chat('x'), {}));
      const t1 = calls.wrap(p1, 'target', 'target');
      const prompts = ['one', 'two', 'three', 'four'].map(chat);
      const first = await Promise.all(prompts.map((q) => t1.generate(q)));
      expect(first.every((g) => !g.cached)).toBe(true);
      // Both replicas answered some of them.
      expect(new Set(first.map((g) => g.replica)).size).toBe(2);
      const sent = a.stats.requests + b.stats.requests;
      store.flush();
      // The same prompts through the pool in the other order, then with A down: all cached, nothing sent.
      const t2 = calls.wrap(p2, 'target', 'target');
      for (const q of prompts) {
        const g = await t2.generate(q);
        expect(g.cached).toBe(true);
        expect(g.replica).toBeUndefined();
      }
      await a.close();
      for (const q of prompts) expect((await t1.generate(q)).cached).toBe(true);
      expect(a.stats.requests + b.stats.requests).toBe(sent);
      // A one-replica list is the plain endpoint: the same cache identity as `base_url: <url>`.
      const single = createTarget({ id: 'openai:pooled', base_url: [b.url] }, env, 'targets[0]');
      const plain = createTarget({ id: 'openai:pooled', base_url: b.url }, env, 'targets[0]');
      opened.push(single, plain);
      expect(single).not.toBeInstanceOf(ReplicaPool);
      expect(requestKey(single.endpoint, chat('x'), {})).toBe(requestKey(plain.endpoint, chat('x'), {}));
    } finally {
      store.close();
      await a.close();
      await b.close();
    }
  });
});

describe('config', () => {
  it('refuses base_url and endpoints together, and a replica listed twice, naming the field', () => {
    expect(() =>
      createTarget(
        {
          id: 'openai:m',
          base_url: 'http://127.0.0.1:1/v1',
          endpoints: ['http://127.0.0.1:2/v1'],
        } as TargetSpec,
        env,
        'targets[0]',
      ),
    ).toThrow(/either as a base_url list or as endpoints/);
    try {
      createTarget(
        { id: 'openai:m', base_url: ['http://127.0.0.1:1/v1', 'http://127.0.0.1:1/v1/'] },
        env,
        'targets[2]',
      );
      expect.unreachable();
    } catch (err) {
      expect(String(err)).toMatch(/listed twice/);
      expect((err as InputError).location.field).toBe('targets[2].base_url[1]');
    }
  });
});

describe('a pool of three with one replica dying mid-run (CLI)', () => {
  it('loses and duplicates no case; the dead replica’s share moves to the others; the log names replicas without secrets', async () => {
    const N = 60;
    const secret = 'pool-replica-password-7f3a9';
    let died = false;
    const answer = (req: ScriptRequest): string => `Sure: ${req.messages?.at(-1)?.content ?? ''}`;
    const replicas = await Promise.all(
      [0, 1, 2].map(() => new MockServer({ script: answer, latencyMs: 2 }).start()),
    );
    const [a, b, c] = replicas as [MockServer, MockServer, MockServer];
    const cBase = c.url;
    // C dies while answering its 8th request (or the first after it): connections reset, then refused.
    c.setScript((req) => {
      if (c.stats.requests >= 8 && !died) {
        died = true;
        void c.close();
      }
      return answer(req);
    });
    writeFile(
      dir,
      'goals.jsonl',
      Array.from({ length: N }, (_, i) => JSON.stringify({ goal: `pooled goal ${i}` })).join('\n') + '\n',
    );
    const cUrl = cBase.replace('http://', `http://pool:${secret}@`);
    const cfg = writeFile(
      dir,
      'pool.yaml',
      `dataset: {path: goals.jsonl}
attacks: [plain]
targets:
  - id: openai:pooled
    base_url: ["${a.url}", "${b.url}", "${cUrl}"]
    concurrency: 2
    backoff_s: 0.01
    replica_cooldown_s: 30
judges: [keyword]
`,
    );
    const db = path.join(dir, 'pool.db');
    try {
      const res = await runCli(['run', cfg, '--db', db, '--json', '--no-progress']);
      expect(res.code, res.stderr).toBe(0);
      const s = lastJson(res.stdout);
      expect(s).toMatchObject({ status: 'complete', cases_done: N, errors: 0 });
      expect(died).toBe(true);

      const sql = new Database(db, { readonly: true });
      const rows = sql.prepare('SELECT case_id, status, replica, response FROM cases').all() as {
        case_id: string;
        status: string;
        replica: string;
        response: string;
      }[];
      sql.close();
      // Every case once, answered, with its own goal's answer.
      expect(rows.length).toBe(N);
      expect(new Set(rows.map((r) => r.case_id)).size).toBe(N);
      expect(rows.every((r) => r.status === 'ok')).toBe(true);
      expect(new Set(rows.map((r) => r.response))).toEqual(
        new Set(Array.from({ length: N }, (_, i) => `Sure: pooled goal ${i}`)),
      );
      // C answered fewer than the 8+ it received before its death; A and B answered all the rest.
      const by = (url: string): number => rows.filter((r) => r.replica === url).length;
      const redactedC = cBase.replace('http://', 'http://[redacted]@');
      expect(by(redactedC)).toBeLessThan(c.stats.requests);
      expect(by(redactedC)).toBeGreaterThan(0);
      expect(by(a.url) + by(b.url)).toBe(N - by(redactedC));
      expect(by(a.url)).toBeGreaterThan(N / 3);
      expect(by(b.url)).toBeGreaterThan(N / 3);
      expect(new Set(rows.map((r) => r.replica))).toEqual(
        new Set([a.url, b.url, redactedC].filter((u) => by(u) > 0)),
      );
      // The replica's password is nowhere in the store.
      expect(readFileSync(db).includes(secret)).toBe(false);
      // runs show counts answers per replica.
      const show = await runCli(['runs', 'show', String(s['run_id']), '--db', db, '--json']);
      const info = JSON.parse(show.stdout) as { replicas: { replica: string; requests: number }[] };
      expect(info.replicas.reduce((n, r) => n + r.requests, 0)).toBe(N);
      expect(show.stdout.includes(secret)).toBe(false);
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
    }
  });
});
