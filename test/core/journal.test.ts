import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { RunStore, emptyCase, type CaseRow } from '../../src/store/store.js';
import { CASE_COLUMNS, REQUEST_COLUMNS } from '../../src/store/rows.js';
import { ROOT, tempDir } from '../helpers/cli.js';

/**
 * The store's write-ahead journal (store/journal.ts): rows accepted by the store survive a SIGKILL once the
 * event-loop turn that accepted them has ended, even though SQLite commits them only in later batches (on
 * the commit worker in the built package, in-thread from these sources); the next process to open the
 * store applies them, once.
 */

const DIST_STORE = path.join(ROOT, 'dist', 'store', 'store.js');

function caseRow(runId: string, i: number): CaseRow {
  return {
    ...emptyCase(),
    run_id: runId,
    case_id: `c${i}`,
    behavior_id: `b${i}`,
    goal: `goal ${i}`,
    behavior_json: '{}',
    attack: 'plain',
    variant: 'default',
    target: 't',
    prompt_json: '"p"',
    response: `answer ${i}`,
    created_at: new Date().toISOString(),
  };
}

function newRun(store: RunStore, id: string): void {
  store.createRun({
    id,
    name: null,
    status: 'running',
    config: {},
    config_hash: 'h',
    config_file: null,
    versions: {},
    cases_total: 0,
  });
}

/** Rows in SQLite itself, read without the store (which would apply journals first). */
function sqliteCount(db: string, table: string): number {
  const conn = new Database(db, { readonly: true });
  try {
    return (conn.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    conn.close();
  }
}

function journals(db: string): string[] {
  return readdirSync(path.dirname(db)).filter((f) => f.startsWith(`${path.basename(db)}-pending-`));
}

/** The pid of a process that has exited (its journal is an orphan). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(String(r.stdout));
}

describe('store journal', () => {
  it('a SIGKILL after the turn that accepted rows loses none of them (built package: commit worker)', () => {
    expect(existsSync(DIST_STORE), 'npm run build first').toBe(true);
    const dir = tempDir();
    const db = path.join(dir, 'kill.db');
    const script = path.join(dir, 'writer.mjs');
    // 1,100 cases and verdicts committed (the first rows in-thread, which starts the commit worker; a read
    // waits for the rest); then 300 more in one turn, one more turn (the journal write), then SIGKILL: well
    // before that batch's commit (250 ms, or 4,000 rows).
    writeFileSync(
      script,
      `import { RunStore } from ${JSON.stringify(DIST_STORE)};
const store = RunStore.open(${JSON.stringify(db)});
store.createRun({ id: 'r', name: null, status: 'running', config: {}, config_hash: 'h', config_file: null, versions: {}, cases_total: 1400 });
const base = ${JSON.stringify(caseRow('r', 0))};
const put = (i) => {
  store.putCase({ ...base, case_id: 'c' + i, goal: 'goal ' + i });
  store.putVerdict('r', 'c' + i, { judge: 'keyword', refusal: false, harmful: i % 2 === 0 });
};
for (let i = 0; i < 1100; i++) put(i);
store.counts('r');
for (let i = 1100; i < 1400; i++) put(i);
console.log(JSON.stringify({ worker: store.commitsOnWorker }));
setImmediate(() => setImmediate(() => process.kill(process.pid, 'SIGKILL')));
`,
    );
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8' });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    expect(JSON.parse(r.stdout)).toEqual({ worker: true });
    expect(sqliteCount(db, 'cases')).toBe(1100); // only the first batch was committed before the kill...
    expect(journals(db)).toHaveLength(1); // ...the rest is in the killed writer's journal

    const store = RunStore.open(db);
    try {
      expect(store.counts('r')).toMatchObject({ cases: 1400, verdicts: 1400 });
      expect(store.getCase('r', 'c1399')?.goal).toBe('goal 1399');
    } finally {
      store.close();
    }
    expect(journals(db)).toHaveLength(0);
  });

  it('applies an orphan journal once, skips one whose commit was recorded, and leaves a live writer’s alone', () => {
    const dir = tempDir();
    const db = path.join(dir, 'orphans.db');
    const store = RunStore.open(db);
    newRun(store, 'r');
    store.close();
    const name = (pid: number, gen: number): string => `orphans.db-pending-${pid}-abc123-${gen}.jsonl`;
    const requestLine = (i: number): string =>
      JSON.stringify([
        'request',
        REQUEST_COLUMNS.map(
          (k) =>
            ({
              run_id: 'r',
              case_id: `c${i}`,
              role: 'target',
              source: 'target',
              target: 't',
              cached: 0,
              status: 'ok',
              cost_usd: 0,
              created_at: 'now',
            })[k as string] ?? null,
        ),
      ]);
    const caseLine = (i: number): string =>
      JSON.stringify(['case', CASE_COLUMNS.map((k) => caseRow('r', i)[k])]);
    const dead = deadPid();
    // Never committed: applied on open. Committed (its marker is in the store) but not yet deleted: not
    // applied again. A live process's: left as it is.
    writeFileSync(path.join(dir, name(dead, 0)), `${caseLine(1)}\n${requestLine(1)}\n${requestLine(2)}\n`);
    writeFileSync(path.join(dir, name(dead, 1)), `${requestLine(3)}\n`);
    writeFileSync(path.join(dir, name(process.ppid, 0)), `${requestLine(4)}\n`);
    const conn = new Database(db);
    conn.prepare("INSERT INTO meta (key, value) VALUES (?, '1')").run(`applied:${name(dead, 1)}`);
    conn.close();

    for (let open = 0; open < 2; open++) {
      const s = RunStore.open(db);
      try {
        expect(s.counts('r').cases).toBe(1);
        expect(s.requestSummary('r')).toEqual([expect.objectContaining({ role: 'target', requests: 2 })]);
      } finally {
        s.close();
      }
    }
    expect(journals(db)).toEqual([name(process.ppid, 0)]);
    const meta = new Database(db, { readonly: true });
    expect(meta.prepare("SELECT COUNT(*) AS n FROM meta WHERE key LIKE 'applied:%'").get()).toEqual({ n: 0 });
    meta.close();
  });

  it('a read commits everything accepted so far; close leaves no journal behind', () => {
    const dir = tempDir();
    const db = path.join(dir, 'reads.db');
    const store = RunStore.open(db);
    newRun(store, 'r');
    for (let i = 0; i < 50; i++) store.putCase(caseRow('r', i));
    expect(store.counts('r').cases).toBe(50);
    expect(sqliteCount(db, 'cases')).toBe(50);
    for (let i = 50; i < 60; i++) store.putCase(caseRow('r', i));
    store.close();
    expect(sqliteCount(db, 'cases')).toBe(60);
    expect(journals(db)).toHaveLength(0);
  });
});

describe('store schema', () => {
  it("an older store's outcome index gains case_id on open, and the ASR counts read through it", () => {
    const dir = tempDir();
    const db = path.join(dir, 'old.db');
    const store = RunStore.open(db);
    newRun(store, 'r');
    for (let i = 0; i < 20; i++) {
      store.putCase({ ...caseRow('r', i), category: i % 2 ? 'a' : null });
      store.putVerdict('r', `c${i}`, { judge: 'kw', refusal: i % 3 === 0, harmful: i % 3 !== 0 });
    }
    store.putCase({ ...caseRow('r', 99), status: 'error', response: null, error: 'boom' });
    const before = store.asrCounts('r', true);
    store.close();
    // The index as refusenik wrote it before case_id joined it.
    const conn = new Database(db);
    conn.exec('DROP INDEX cases_outcome');
    conn.exec('CREATE INDEX cases_outcome ON cases(run_id, status, target, attack, variant, category)');
    conn.close();

    const reopened = RunStore.open(db);
    const after = reopened.asrCounts('r', true);
    reopened.close();
    const check = new Database(db, { readonly: true });
    const columns = check
      .prepare('PRAGMA index_info(cases_outcome)')
      .all()
      .map((c) => (c as { name: string }).name);
    check.close();
    expect(columns).toEqual(['run_id', 'status', 'target', 'attack', 'variant', 'category', 'case_id']);
    expect(after).toEqual(before);
    expect(after.groups.map((g) => [g.category, g.errors])).toEqual([
      ['(none)', 1],
      ['a', 0],
    ]);
    expect(after.judged.map((j) => [j.category, j.n, j.successes, j.refusals])).toEqual([
      ['(none)', 10, 6, 4],
      ['a', 10, 7, 3],
    ]);
  });
});
