import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockServer } from '../../src/target/mock-server.js';
import { outputTarget } from '../../src/util/atomic-write.js';
import { collect, runCli, spawnCli, tempDir, writeFile } from '../helpers/cli.js';
import { plainConfig, storeBytes, storeRun } from './fixture.js';

/**
 * Issue 21, items 1 and 2 (and `--out <folder>` from item 10), through the built CLI: an output never
 * replaces the run store a command reads, nor any SQLite database; a FIFO, a character device and a
 * descriptor link (/proc/self/fd/1, /dev/fd/1) are written in place, as streams, never swapped for a
 * regular file; a symlink to a regular file keeps the link.
 */

const dir = tempDir('refusenik-outputs-');
let server: MockServer;
let db: string;
let runId: string;

beforeAll(async () => {
  server = await new MockServer({ script: () => 'Sure, here it is.' }).start();
  writeFile(dir, 'goals.jsonl', '{"goal": "first goal"}\n{"goal": "second goal"}\n{"goal": "third goal"}\n');
  ({ db, runId } = await storeRun(dir, 'outputs', plainConfig(server)));
});
afterAll(async () => server.close());

async function reportMd(): Promise<string> {
  const res = await runCli(['report', runId, '--db', db, '--format', 'md']);
  expect(res.code).toBe(0);
  return res.stdout;
}

describe('outputs never clobber the run store (item 1)', () => {
  it('report --out and label --export naming the store are refused; the store stays byte-identical', async () => {
    const before = storeBytes(db);
    for (const format of ['md', 'html', 'json', 'csv']) {
      const res = await runCli(['report', runId, '--db', db, '--format', format, '--out', db]);
      expect(res.code).toBe(2);
      expect(res.stderr).toContain(db);
      expect(res.stderr).toContain('run store');
      expect(storeBytes(db).equals(before)).toBe(true);
    }
    const exp = await runCli(['label', runId, '--db', db, '--export', db, '--n', '2']);
    expect(exp.code).toBe(2);
    expect(exp.stderr).toContain('run store');
    expect(storeBytes(db).equals(before)).toBe(true);
    // The same store under another name (a hard link) is the same file: refused too.
    const alias = path.join(dir, 'alias.db');
    linkSync(db, alias);
    const viaLink = await runCli(['report', runId, '--db', db, '--out', alias]);
    expect(viaLink.code).toBe(2);
    expect(storeBytes(db).equals(before)).toBe(true);
    // No temporary file left, and the store still reads.
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const list = await runCli(['runs', 'list', '--db', db, '--json']);
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as { id: string }[]).map((r) => r.id)).toEqual([runId]);
  });

  it('never replaces another SQLite database either (some other store)', async () => {
    const other = path.join(dir, 'other-store.db');
    copyFileSync(db, other);
    const before = readFileSync(other);
    const res = await runCli(['report', runId, '--db', db, '--format', 'md', '--out', other]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('SQLite database');
    expect(readFileSync(other).equals(before)).toBe(true);
  });

  it('--out naming a folder is an error naming it (exit 2), not "unexpected error: EISDIR"', async () => {
    const folder = path.join(dir, 'a-folder');
    mkdirSync(folder);
    const res = await runCli(['report', runId, '--db', db, '--out', folder]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${folder}: is a folder`);
    expect(res.stderr).not.toContain('unexpected');
  });
});

describe('special files are written in place, never replaced (item 2)', () => {
  it('a FIFO: a real reader gets the whole report, and the FIFO stays a FIFO', async () => {
    const fifo = path.join(dir, 'report.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const expected = await reportMd();
    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'pipe'] });
    const read = collect(reader, 30_000);
    const res = await runCli(['report', runId, '--db', db, '--format', 'md', '--out', fifo]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const got = await read;
    expect(got.code).toBe(0);
    expect(got.stdout).toBe(expected);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('a FIFO for label --export: the reader gets every JSON line', async () => {
    const fifo = path.join(dir, 'export.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'pipe'] });
    const read = collect(reader, 30_000);
    const res = await runCli(['label', runId, '--db', db, '--export', fifo, '--n', '3']);
    expect(res.code).toBe(0);
    const lines = (await read).stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(JSON.parse(l)).toHaveProperty('case_id');
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it('judge --out a FIFO: verdicts stream to the reader, no journal file is left beside it', async () => {
    const input = writeFile(
      dir,
      'responses.jsonl',
      '{"prompt": "p1", "response": "Sure."}\n{"prompt": "p2", "response": "No."}\n',
    );
    const fifo = path.join(dir, 'verdicts.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'pipe'] });
    const read = collect(reader, 30_000);
    const res = await runCli(['judge', '--input', input, '--judge', 'keyword', '--out', fifo]);
    expect(res.code, res.stderr).toBe(0);
    expect((await read).stdout.trim().split('\n')).toHaveLength(2);
    expect(readdirSync(dir).filter((f) => f.startsWith('verdicts.fifo.'))).toEqual([]);
    // Naming the input as the output is refused before any judge call.
    const same = await runCli(['judge', '--input', input, '--judge', 'keyword', '--out', input]);
    expect(same.code).toBe(2);
    expect(same.stderr).toContain('--input file');
  });

  it('a character device stays a character device', async () => {
    // As root, a node of our own (mknod), so a regression could never replace the system's /dev/null.
    let device = '/dev/null';
    if (process.getuid?.() === 0) {
      const own = path.join(dir, 'null-device');
      if (spawnSync('mknod', [own, 'c', '1', '3']).status === 0) device = own;
      else return; // no CAP_MKNOD here: not worth risking /dev/null as root
    }
    const res = await runCli(['report', runId, '--db', db, '--format', 'html', '--out', device]);
    expect(res.code).toBe(0);
    expect(statSync(device).isCharacterDevice()).toBe(true);
    expect(readdirSync(path.dirname(device)).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('/proc/self/fd/1 and /dev/fd/1 are the process stdout: the report arrives there', async () => {
    const expected = await reportMd();
    for (const link of ['/proc/self/fd/1', '/dev/fd/1']) {
      const res = await runCli(['report', runId, '--db', db, '--format', 'md', '--out', link]);
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      expect(res.stdout).toBe(expected);
    }
    expect(lstatSync('/dev/fd').isSymbolicLink()).toBe(true);
  });

  it('/dev/stdout is this process stdout, written directly; the node itself is never touched', async () => {
    // The decision, checked as is: descriptor 1, written in place (no temporary file in /dev, no rename).
    expect(outputTarget('/dev/stdout')).toMatchObject({ mode: 'stream', fd: 1 });
    expect(outputTarget('/dev/stderr')).toMatchObject({ mode: 'stream', fd: 2 });
    // Through the CLI only when not root: as root a regression would replace the machine's /dev/stdout.
    if (process.getuid?.() === 0) return;
    const res = await runCli(['report', runId, '--db', db, '--format', 'md', '--out', '/dev/stdout']);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(await reportMd());
    expect(lstatSync('/dev/stdout').isSymbolicLink()).toBe(true);
  });

  it('stdout redirected to a file: --out /proc/self/fd/1 writes into that file (same inode), not a new one', async () => {
    const expected = await reportMd();
    const file = path.join(dir, 'redirected.md');
    writeFileSync(file, '');
    const ino = statSync(file).ino;
    const fd = openSync(file, 'w');
    try {
      const child = spawn(
        process.execPath,
        [
          path.resolve('bin/refusenik'),
          'report',
          runId,
          '--db',
          db,
          '--format',
          'md',
          '--out',
          '/proc/self/fd/1',
        ],
        { stdio: ['ignore', fd, 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
      );
      const res = await collect(child, 30_000);
      expect(res.code).toBe(0);
    } finally {
      closeSync(fd);
    }
    expect(statSync(file).ino).toBe(ino);
    expect(readFileSync(file, 'utf8')).toBe(expected);
  });

  it('a symlink to a regular file keeps the link; the file it points at gets the report', async () => {
    const real = path.join(dir, 'real-report.md');
    writeFileSync(real, 'old\n');
    const link = path.join(dir, 'link-report.md');
    symlinkSync(real, link);
    const res = await runCli(['report', runId, '--db', db, '--format', 'md', '--out', link]);
    expect(res.code).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(real, 'utf8')).toBe(await reportMd());
  });

  it('jsonl outputs through the same writer refuse the store too (analyze refusal-position --records)', async () => {
    const before = storeBytes(db);
    const child = spawnCli(['analyze', 'refusal-position', '--run', runId, '--db', db, '--records', db]);
    const res = await collect(child, 30_000);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('run store');
    expect(storeBytes(db).equals(before)).toBe(true);
  });
});
