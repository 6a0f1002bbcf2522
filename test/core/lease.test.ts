import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockServer } from '../../src/target/mock-server.js';
import { RunStore } from '../../src/store/store.js';
import { RunBusyError, observedStatus } from '../../src/store/lease.js';
import { StoredRun, withStoredRun } from '../../src/runner/stored-run.js';
import { collect, runCli, spawnCli, tempDir, writeFile } from '../helpers/cli.js';

/**
 * One writer per run (issue 10, item 3): a second process on the same run is refused with a message naming
 * the first; a holder killed with SIGKILL leaves a lease that expires, `runs list` shows the run as
 * interrupted, and the next process takes the run over and finishes it without re-sending stored cases.
 */

const dir = tempDir();
const N = 40;
let server: MockServer;

beforeAll(async () => {
  // Slow answers: the first process is still mid-run when the second one starts.
  server = await new MockServer({ latencyMs: 250, script: () => 'Sure.' }).start();
  const goals = Array.from({ length: N }, (_, i) => JSON.stringify({ goal: `lease goal ${i}` })).join('\n');
  writeFile(dir, 'goals.jsonl', `${goals}\n`);
});
afterAll(async () => server.close());

async function waitFor(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function storedCases(db: string): number {
  // What the store holds once opened again: opening applies what the killed writer left in its journal.
  RunStore.open(db).close();
  const conn = new Database(db, { readonly: true });
  try {
    return (conn.prepare('SELECT COUNT(*) AS n FROM cases').get() as { n: number }).n;
  } finally {
    conn.close();
  }
}

describe('one writer per run', () => {
  it('refuses a second process, then a SIGKILLed holder is taken over and shown as interrupted', async () => {
    const cfg = writeFile(
      dir,
      'lease.yaml',
      `dataset: {path: goals.jsonl}\nattacks: [plain]\ntargets:\n  - id: openai:m\n    base_url: ${server.url}\n    concurrency: 2\njudges: [keyword]\n`,
    );
    const db = path.join(dir, 'lease.db');
    const first = spawnCli(['run', cfg, '--db', db, '--json', '--no-progress']);
    const firstDone = collect(first, 90_000);
    await waitFor(() => server.stats.requests >= 2);

    const second = await runCli(['run', cfg, '--db', db, '--json', '--no-progress']);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`pid ${first.pid} on ${os.hostname()}`);
    expect(second.stderr).toMatch(/being written by another process: .* since \d{4}-\d\d-\d\dT/);
    // The refused process sent nothing: no prompt reached the server twice.
    expect(Math.max(...server.stats.byPrompt.values())).toBe(1);

    const live = JSON.parse((await runCli(['runs', 'list', '--db', db, '--json'])).stdout) as {
      id: string;
      status: string;
    }[];
    expect(live).toHaveLength(1);
    expect(live[0]?.status).toBe('running');
    const showLive = await runCli(['runs', 'show', live[0]?.id as string, '--db', db]);
    expect(showLive.stdout).toContain(`(pid ${first.pid} on ${os.hostname()} since`);
    // Deleting a run that is being written is refused too.
    const del = await runCli(['runs', 'delete', live[0]?.id as string, '--db', db]);
    expect(del.code).toBe(1);
    expect(del.stderr).toContain(`pid ${first.pid}`);

    await waitFor(() => storedCases(db) >= 4);
    first.kill('SIGKILL');
    expect((await firstDone).signal).toBe('SIGKILL');
    const atKill = storedCases(db);
    expect(atKill).toBeLessThan(N);
    const countsAtKill = new Map(server.stats.byPrompt);

    // The stored status still says running; every reader shows the truth.
    const conn = new Database(db, { readonly: true });
    expect((conn.prepare('SELECT status FROM runs').get() as { status: string }).status).toBe('running');
    conn.close();
    const dead = JSON.parse((await runCli(['runs', 'list', '--db', db, '--json'])).stdout) as {
      status: string;
    }[];
    expect(dead[0]?.status).toBe('interrupted');
    const show = JSON.parse(
      (await runCli(['runs', 'show', live[0]?.id as string, '--db', db, '--json'])).stdout,
    ) as { status: string; writer?: unknown };
    expect(show.status).toBe('interrupted');
    expect(show.writer).toBeUndefined();
    const md = await runCli(['report', live[0]?.id as string, '--db', db, '--format', 'md']);
    expect(md.stdout).toContain('(interrupted)');

    // The holder died on this host: its lease has expired at once, and the next process takes over.
    const third = await runCli(['run', cfg, '--db', db, '--json', '--no-progress'], { timeoutMs: 90_000 });
    expect(third.code, third.stderr).toBe(0);
    const out = JSON.parse(third.stdout) as Record<string, number | string>;
    expect(out).toMatchObject({ status: 'complete', cases_done: N, errors: 0, skipped: atKill });
    expect(storedCases(db)).toBe(N);
    // No case stored before the kill was sent again.
    const stored = new Database(db, { readonly: true });
    const goals = (stored.prepare('SELECT goal FROM cases').all() as { goal: string }[]).map((r) => r.goal);
    const leases = (stored.prepare('SELECT COUNT(*) AS n FROM run_leases').get() as { n: number }).n;
    stored.close();
    expect(leases).toBe(0);
    const twice = goals.filter((g) => (server.stats.byPrompt.get(g) ?? 0) > 1);
    for (const g of twice) expect(countsAtKill.get(g), g).toBe(1);
    expect(twice.length).toBeLessThanOrEqual(2);
  }, 120_000);
});

describe('one writer per import', () => {
  it('a second import of the same file is refused while the first is judging; after a kill it resumes', async () => {
    const judgeServer = await new MockServer({ latencyMs: 200, script: 'judge' }).start();
    try {
      const lines = Array.from({ length: 20 }, (_, i) =>
        JSON.stringify({ prompt: `import goal ${i}`, response: `Sure, part ${i}` }),
      );
      const input = writeFile(dir, 'answers.jsonl', `${lines.join('\n')}\n`);
      const db = path.join(dir, 'import.db');
      const args = ['import', '--input', input, '--judge', 'qi2023', '--model', 'openai:judge'];
      args.push('--base-url', judgeServer.url, '--concurrency', '1', '--db', db, '--json', '--no-progress');
      const first = spawnCli(args);
      const firstDone = collect(first, 60_000);
      await waitFor(() => judgeServer.stats.requests >= 2);
      const second = await runCli(args);
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(
        `being written by another process: pid ${first.pid} on ${os.hostname()}`,
      );
      first.kill('SIGKILL');
      await firstDone;
      const sent = judgeServer.stats.requests;
      const list = JSON.parse((await runCli(['runs', 'list', '--db', db, '--json'])).stdout) as {
        status: string;
      }[];
      expect(list[0]?.status).toBe('interrupted');
      const third = await runCli(args);
      expect(third.code, third.stderr).toBe(0);
      const out = JSON.parse(third.stdout) as { resumed?: boolean; verdicts_kept?: number };
      expect(out.resumed).toBe(true);
      expect(out.verdicts_kept).toBeGreaterThan(0);
      // Only the verdicts not stored before the kill were asked for.
      expect(judgeServer.stats.requests - sent).toBe(20 - (out.verdicts_kept as number));
    } finally {
      await judgeServer.close();
    }
  }, 90_000);
});

describe('lease rules', () => {
  it('a live holder refuses, a stale heartbeat or a dead pid on this host expires, release frees', () => {
    const store = RunStore.open(path.join(dir, 'unit.db'));
    try {
      const lease = store.leases.acquire('run-a');
      expect(() => store.leases.acquire('run-a')).toThrow(RunBusyError);
      expect(observedStatus(store.leases, { id: 'run-a', status: 'running' })).toBe('running');
      // A finished run resumed by a live writer (e.g. a re-import) is running again.
      expect(observedStatus(store.leases, { id: 'run-a', status: 'interrupted' })).toBe('running');
      // Another run is independent.
      store.leases.acquire('run-b').release();
      lease.release();
      expect(store.leases.holder('run-a')).toBeUndefined();
      expect(observedStatus(store.leases, { id: 'run-a', status: 'running' })).toBe('interrupted');
      expect(observedStatus(store.leases, { id: 'run-a', status: 'complete' })).toBe('complete');

      // A holder on another host that stopped beating: expired after the stale limit, not before.
      const conn = new Database(path.join(dir, 'unit.db'));
      const old = new Date(Date.now() - 60_000).toISOString();
      conn
        .prepare('INSERT INTO run_leases VALUES (?, ?, ?, ?, ?, ?)')
        .run('run-c', 'tok', 4242, 'other-host.example', old, new Date().toISOString());
      expect(() => store.leases.acquire('run-c')).toThrow(/pid 4242 on other-host\.example/);
      conn.prepare('UPDATE run_leases SET heartbeat_at = ? WHERE run_id = ?').run(old, 'run-c');
      const taken = store.leases.acquire('run-c');
      expect(store.leases.holder('run-c')?.pid).toBe(process.pid);
      taken.beat();
      expect(taken.lost).toBe(false);
      // A holder whose lease was taken over finds out at its next heartbeat and does not take it back.
      conn.prepare("UPDATE run_leases SET token = 'someone-else' WHERE run_id = ?").run('run-c');
      taken.beat();
      expect(taken.lost).toBe(true);
      expect(taken.signal.aborted).toBe(true);
      taken.release();
      expect(store.leases.holder('run-c')?.token).toBe('someone-else');
      conn.close();
    } finally {
      store.close();
    }
  });
});

describe('the stored-run lifecycle (runner/stored-run.ts)', () => {
  it('registers, resumes and closes a run under its lease; a writer taken over writes nothing more', async () => {
    const db = path.join(dir, 'lifecycle.db');
    const store = RunStore.open(db);
    const conn = new Database(db);
    try {
      const reg = { name: 'probe', config: { probe: 1 }, configFile: null, versions: {}, casesTotal: 3 };
      const done = await withStoredRun(store, 'run-l', undefined, async (run) => {
        expect(() => store.leases.acquire('run-l')).toThrow(RunBusyError);
        run.open(reg);
        expect(store.getRun('run-l')).toMatchObject({ status: 'running', name: 'probe', cases_total: 3 });
        return run.execute(
          async () => 2,
          (errors) => (errors ? 'incomplete' : 'complete'),
        );
      });
      expect(done).toEqual({ result: 2, status: 'incomplete' });
      expect(store.getRun('run-l')?.status).toBe('incomplete');
      expect(store.leases.holder('run-l')).toBeUndefined();

      // Opened again: resumed (running), not registered twice; a throw closes it failed and frees the lease.
      const boom = withStoredRun(store, 'run-l', undefined, async (run) => {
        run.open(reg);
        expect(store.getRun('run-l')?.status).toBe('running');
        return run.execute(
          () => Promise.reject(new Error('boom')),
          () => 'complete',
        );
      });
      await expect(boom).rejects.toThrow('boom');
      expect(store.getRun('run-l')?.status).toBe('failed');
      expect(store.leases.holder('run-l')).toBeUndefined();

      // Another process took the lease over: the signal aborts, and the old writer stops without a status.
      const lease = store.leases.acquire('run-l');
      const run = new StoredRun(store, lease);
      run.resume();
      conn.prepare("UPDATE run_leases SET token = 'new-holder' WHERE run_id = ?").run('run-l');
      lease.beat();
      expect(run.lost).toBe(true);
      expect(run.signal.aborted).toBe(true);
      expect(() => run.assertHeld('transition')).toThrow(
        'transition run-l: another process took over its lease; stopped',
      );
      await expect(
        run.execute(
          () => Promise.reject(new Error('aborted')),
          () => 'complete',
        ),
      ).rejects.toThrow('aborted');
      expect(store.getRun('run-l')?.status).toBe('running');
      lease.release();
      expect(store.leases.holder('run-l')?.token).toBe('new-holder');
    } finally {
      conn.close();
      store.close();
    }
  });
});
