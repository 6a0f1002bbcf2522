import { spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, DATA_DIR, ROOT, collect, runCli, tempDir, writeFile, type CliResult } from '../helpers/cli.js';

/**
 * Issue 21, item 9, through the built CLI: a run store chmod 0444 in a 0555 folder is read by every
 * read-only command (runs list/show, report in every format, analyze, compare, suite table, label --export),
 * and nothing is written beside it.
 *
 * Tests may run as root, where chmod stops nothing: there the commands run as the unprivileged user
 * `nobody` (uid/gid 65534), for whom the modes hold as they would for any user. The store is opened with
 * SQLite's read-only flag either way, which also holds for root: the last test runs every command as this
 * process's own user and checks that the store's bytes and the folder's listing did not change.
 */

const root = tempDir('refusenik-readonly-');
const storeDir = path.join(root, 'shared-results');
const outDir = path.join(root, 'out');
const db = path.join(storeDir, 'runs.db');
const asRoot = process.getuid?.() === 0;
const NOBODY = 65534;
let runId = '';
let cipherRun = '';

/** Runs the CLI as a user who may read the store but not write it (nobody, when this process is root). */
function runAsReader(args: string[]): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, REFUSENIK_DATA_DIR: DATA_DIR, NO_COLOR: '1', HOME: outDir },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  return collect(child, 60_000);
}

function listing(dir: string): string[] {
  return readdirSync(dir).sort();
}

beforeAll(async () => {
  mkdirSync(storeDir);
  mkdirSync(outDir);
  // The reader must reach the folder (/tmp/<mkdtemp> is 0700) and write its outputs somewhere.
  chmodSync(root, 0o755);
  chmodSync(outDir, 0o777);
  writeFile(root, 'goals.jsonl', '{"goal": "first goal"}\n{"goal": "second goal"}\n{"goal": "third goal"}\n');
  const cfg = writeFile(
    root,
    'run.yaml',
    'name: shared\ndataset: {path: goals.jsonl}\nattacks: [plain]\n' +
      'targets:\n  - {id: mock:refuse-plain, label: base}\n  - {id: mock:comply, label: trained}\n' +
      'judges: [keyword, {keyword: {id: second}}]\n',
  );
  const run = await runCli(['run', cfg, '--db', db, '--json']);
  expect(run.code, run.stderr).toBe(0);
  runId = (JSON.parse(run.stdout) as { run_id: string }).run_id;
  const cipher = writeFile(
    root,
    'cipher.yaml',
    'dataset: {path: goals.jsonl}\nattacks: [selfcipher]\ntargets: [{id: mock:refuse-plain}]\njudges: [keyword]\n',
  );
  const run2 = await runCli(['run', cipher, '--db', db, '--json']);
  expect(run2.code, run2.stderr).toBe(0);
  cipherRun = (JSON.parse(run2.stdout) as { run_id: string }).run_id;
  // The writer is gone and closed the store cleanly: no -wal or -shm is left for a reader to use.
  expect(listing(storeDir)).toEqual(['runs.db']);
  chmodSync(db, 0o444);
  chmodSync(storeDir, 0o555);
});

afterAll(() => {
  chmodSync(storeDir, 0o755);
  chmodSync(db, 0o644);
});

/** Every read-only command, with what its output must show. */
function readOnlyCommands(): { args: string[]; expect: string }[] {
  return [
    { args: ['runs', 'list'], expect: runId },
    { args: ['runs', 'list', '--json'], expect: runId },
    { args: ['runs', 'show', runId], expect: 'shared' },
    { args: ['runs', 'show', runId, '--json'], expect: '"cases_total": 6' },
    { args: ['report', runId, '--format', 'md'], expect: '# refusenik report: shared' },
    { args: ['report', runId, '--format', 'json'], expect: '"attack_success_rate"' },
    { args: ['report', runId, '--format', 'csv'], expect: 'target,attack' },
    { args: ['report', runId, '--format', 'html'], expect: '<!doctype html>' },
    { args: ['analyze', 'asr', '--run', runId], expect: 'ASR' },
    { args: ['analyze', 'asr', '--run', runId, '--by', 'category'], expect: 'ASR' },
    { args: ['analyze', 'agreement', '--run', runId], expect: 'kappa' },
    { args: ['analyze', 'refusal-position', '--run', runId], expect: 'responses' },
    {
      args: ['compare', runId, '--target-a', 'base', '--target-b', 'trained', '--judge', 'keyword'],
      expect: 'McNemar',
    },
    { args: ['suite', 'table', cipherRun, '--paper', 'none'], expect: 'this run' },
  ];
}

describe('a read-only run store (item 9)', () => {
  it(`every read-only command reads a 0444 store in a 0555 folder${asRoot ? ' (as nobody: tests run as root)' : ''}`, async () => {
    const before = readFileSync(db);
    for (const c of readOnlyCommands()) {
      const res = await runAsReader([...c.args, '--db', db]);
      expect(res.stderr, c.args.join(' ')).toBe('');
      expect(res.code, c.args.join(' ')).toBe(0);
      expect(res.stdout.toLowerCase(), c.args.join(' ')).toContain(c.expect.toLowerCase());
    }
    // Outputs written elsewhere work too.
    const html = path.join(outDir, 'report.html');
    const rep = await runAsReader(['report', runId, '--db', db, '--format', 'html', '--out', html]);
    expect(rep.code, rep.stderr).toBe(0);
    expect(readFileSync(html, 'utf8')).toContain('shared');
    const todo = path.join(outDir, 'todo.jsonl');
    const exp = await runAsReader(['label', runId, '--db', db, '--export', todo, '--n', '4']);
    expect(exp.code, exp.stderr).toBe(0);
    expect(readFileSync(todo, 'utf8').trim().split('\n').length).toBeGreaterThan(0);
    // Nothing was written beside the store, and the store is as it was.
    expect(listing(storeDir)).toEqual(['runs.db']);
    expect(readFileSync(db).equals(before)).toBe(true);
  });

  it('a writing command on it fails with a message naming the store, not a stack trace', async () => {
    const res = await runAsReader(['runs', 'delete', runId, '--db', db]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain(db);
    expect(res.stderr).not.toContain('unexpected');
  });

  it('a store that needs a schema upgrade says so clearly when it cannot be upgraded', async () => {
    const oldDir = path.join(root, 'old-store');
    mkdirSync(oldDir);
    const old = path.join(oldDir, 'old.db');
    chmodSync(storeDir, 0o755);
    copyFileSync(db, old);
    chmodSync(storeDir, 0o555);
    chmodSync(old, 0o644);
    const conn = new Database(old);
    conn.exec('ALTER TABLE verdicts DROP COLUMN inconclusive');
    conn.pragma('journal_mode = DELETE');
    conn.close();
    chmodSync(old, 0o444);
    chmodSync(oldDir, 0o555);
    try {
      const res = await runAsReader(['runs', 'list', '--db', old]);
      expect(res.code).toBe(2);
      expect(res.stderr).toContain(old);
      expect(res.stderr).toContain('needs an upgrade');
      expect(res.stderr).toContain('verdicts.inconclusive');
      expect(res.stderr).toContain('read-only');
      // Whoever may write it upgrades it by reading it once, as before.
      chmodSync(oldDir, 0o755);
      chmodSync(old, 0o644);
      const owner = await runCli(['runs', 'list', '--db', old, '--json']);
      expect(owner.code, owner.stderr).toBe(0);
      chmodSync(old, 0o444);
      chmodSync(oldDir, 0o555);
      const after = await runAsReader(['runs', 'list', '--db', old, '--json']);
      expect(after.code, after.stderr).toBe(0);
      expect(after.stdout).toContain(runId);
    } finally {
      chmodSync(oldDir, 0o755);
    }
  });

  it('rows a killed run left in its journal are named, not silently missing, when they cannot be applied', async () => {
    chmodSync(storeDir, 0o755);
    const journal = path.join(storeDir, 'runs.db-pending-999999999-abcdef-0.jsonl');
    writeFileSync(journal, '');
    chmodSync(storeDir, 0o555);
    try {
      const res = await runAsReader(['runs', 'list', '--db', db]);
      expect(res.code).toBe(0);
      expect(res.stderr).toContain('not applied yet');
    } finally {
      chmodSync(storeDir, 0o755);
      unlinkSync(journal);
      chmodSync(storeDir, 0o555);
    }
  });

  it("as this process's own user too (root included), read-only commands never write the store or beside it", async () => {
    const before = readFileSync(db);
    for (const c of readOnlyCommands()) {
      const res = await runCli([...c.args, '--db', db]);
      expect(res.code, `${c.args.join(' ')}: ${res.stderr}`).toBe(0);
    }
    expect(readFileSync(db).equals(before)).toBe(true);
    // As root a read-only connection may leave SQLite's empty -wal/-shm index files in a folder it can
    // write; never any content: the store itself is the same bytes.
    for (const f of listing(storeDir).filter((n) => n.endsWith('-wal')))
      expect(readFileSync(path.join(storeDir, f)).length).toBe(0);
  });
});
