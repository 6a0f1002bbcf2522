import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { MockServer } from '../../src/target/mock-server.js';
import { RunStore } from '../../src/store/store.js';
import { collect, runCli, spawnCli, tempDir, writeFile } from '../helpers/cli.js';

/**
 * Interruption: SIGKILL the CLI mid-run, resume, and check that every case ends up stored exactly once and
 * that no case finished before the kill was sent again. Then Ctrl-C (SIGINT): a clean stop, exit 130.
 */

const dir = tempDir();
const N = 120;
let server: MockServer;

beforeAll(async () => {
  server = await new MockServer({ latencyMs: 40, script: () => 'Sure.' }).start();
  const goals = Array.from({ length: N }, (_, i) => JSON.stringify({ goal: `goal ${i}` })).join('\n');
  writeFile(dir, 'goals.jsonl', `${goals}\n`);
});
afterAll(async () => server.close());

function config(name: string): string {
  return writeFile(
    dir,
    name,
    `dataset: {path: goals.jsonl}\nattacks: [plain]\ntargets:\n  - id: openai:m\n    base_url: ${server.url}\n    concurrency: 4\njudges: [keyword]\n`,
  );
}

async function waitFor(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function storedGoals(db: string): string[] {
  // What the store holds once opened again: opening applies what the killed writer left in its journal.
  RunStore.open(db).close();
  const conn = new Database(db, { readonly: true });
  try {
    return (conn.prepare('SELECT goal FROM cases').all() as { goal: string }[]).map((r) => r.goal);
  } finally {
    conn.close();
  }
}

describe('interrupted runs', () => {
  it('SIGKILL mid-run, then resume: each case stored once, no finished case re-sent', async () => {
    const db = path.join(dir, 'kill.db');
    const cfg = config('kill.yaml');
    const child = spawnCli(['run', cfg, '--db', db, '--json']);
    const done = collect(child, 60_000);
    await waitFor(() => server.stats.requests >= 40);
    child.kill('SIGKILL');
    const killed = await done;
    expect(killed.signal).toBe('SIGKILL');

    const before = storedGoals(db);
    expect(before.length).toBeGreaterThan(20);
    expect(before.length).toBeLessThan(N);
    const countsAtKill = new Map(server.stats.byPrompt);

    const resumed = await runCli(['run', cfg, '--db', db, '--json']);
    expect(resumed.code).toBe(0);
    const out = JSON.parse(resumed.stdout) as Record<string, number>;
    expect(out).toMatchObject({ cases_total: N, cases_done: N, errors: 0, skipped: before.length });
    expect(out['requests_sent']).toBe(N - before.length);

    const after = storedGoals(db);
    expect(after).toHaveLength(N);
    expect(new Set(after).size).toBe(N);
    for (const goal of before) expect(server.stats.byPrompt.get(goal), goal).toBe(countsAtKill.get(goal));
    // Every case was sent at least once; only the ones in flight at the kill were sent twice.
    const twice = [...server.stats.byPrompt.values()].filter((n) => n > 1).length;
    expect(twice).toBeLessThanOrEqual(4);

    const conn = new Database(db, { readonly: true });
    const verdicts = conn
      .prepare('SELECT COUNT(*) AS n, COUNT(DISTINCT case_id) AS d FROM verdicts')
      .get() as { n: number; d: number };
    conn.close();
    expect(verdicts).toEqual({ n: N, d: N });
  });

  it('Ctrl-C stops cleanly: exit 130, finished cases kept, resumable with --resume', async () => {
    const db = path.join(dir, 'int.db');
    server.stats.byPrompt.clear();
    const start = server.stats.requests;
    const child = spawnCli(['run', config('int.yaml'), '--db', db, '--json']);
    const done = collect(child, 60_000);
    await waitFor(() => server.stats.requests - start >= 30);
    child.kill('SIGINT');
    const res = await done;
    expect(res.code).toBe(130);
    const summary = JSON.parse(res.stdout) as Record<string, unknown>;
    expect(summary['status']).toBe('interrupted');
    const kept = storedGoals(db).length;
    expect(kept).toBe(summary['cases_done']);
    expect(kept).toBeLessThan(N);

    const resumed = await runCli(['run', '--resume', String(summary['run_id']), '--db', db, '--json']);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ status: 'complete', cases_done: N, skipped: kept });
  });
});
