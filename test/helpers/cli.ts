import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The repo root and the shared data folder the tests read (REFUSENIK_DATA_DIR, as CI sets it). */
export const ROOT = path.resolve(import.meta.dirname, '../..');
export const DATA_DIR = path.resolve(ROOT, process.env['REFUSENIK_DATA_DIR'] ?? '../shared/data');
export const FIXTURES = path.resolve(ROOT, '../shared/fixtures');
export const BIN = path.join(ROOT, 'bin', 'refusenik');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (`npm run build` first) as a child process, as a user would. */
export function runCli(
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const child = spawnCli(args, opts);
  return collect(child, opts.timeoutMs ?? 60_000);
}

export function spawnCli(
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string } = {},
): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    // Progress lines (stderr, not a terminal) only where a test asks for them: most tests check stderr is empty.
    env: {
      ...process.env,
      REFUSENIK_DATA_DIR: DATA_DIR,
      NO_COLOR: '1',
      REFUSENIK_PROGRESS_INTERVAL_S: '1000000',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function collect(child: ChildProcess, timeoutMs: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI timed out after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export function tempDir(prefix = 'refusenik-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes a file into `dir` and returns its path. */
export function writeFile(dir: string, name: string, content: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
}
