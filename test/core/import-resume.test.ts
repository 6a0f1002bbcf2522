import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockServer } from '../../src/target/mock-server.js';
import { RunStore } from '../../src/store/store.js';
import { collect, runCli, spawnCli, tempDir, writeFile } from '../helpers/cli.js';

/**
 * Everything paid for is kept: SIGKILL `import` while a model judge is answering, then run the same
 * command again. No stored verdict is lost, none is asked for twice, and the run reads `imported` only
 * when every verdict is in.
 */

const dir = tempDir();
const N = 40;
let server: MockServer;

beforeAll(async () => {
  server = await new MockServer({ latencyMs: 60, script: 'judge' }).start();
});
afterAll(async () => server.close());

async function waitFor(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('import with a model judge, killed and resumed', () => {
  it('keeps every stored verdict and asks only for the missing ones', async () => {
    const lines = Array.from({ length: N }, (_, i) =>
      JSON.stringify({ prompt: `goal number ${i}`, response: `Sure, here is part ${i}: step one...` }),
    );
    const input = writeFile(dir, 'responses.jsonl', `${lines.join('\n')}\n`);
    const db = path.join(dir, 'runs.db');
    const args = [
      'import',
      '--input',
      input,
      '--judge',
      'qi2023',
      '--model',
      'openai:judge',
      '--base-url',
      server.url,
      '--concurrency',
      '2',
      '--db',
      db,
      '--json',
      '--no-progress',
    ];
    const child = spawnCli(args);
    const done = collect(child, 60_000);
    await waitFor(() => server.stats.requests >= 12);
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    const sentBeforeKill = server.stats.requests;

    const store = RunStore.open(db);
    const [run] = store.listRuns();
    expect(run?.status).toBe('running');
    const kept = [...store.iterateVerdicts(run?.id as string)].filter((v) => v.error === null).length;
    store.close();
    // Verdicts were stored as they arrived: all answered calls but the few in flight at the kill.
    expect(kept).toBeGreaterThanOrEqual(sentBeforeKill - 2 - 1);
    expect(kept).toBeLessThan(N);

    const resumed = await runCli(args);
    expect(resumed.code, resumed.stderr).toBe(0);
    const summary = JSON.parse(resumed.stdout) as { judges: { n: number; errors: number }[] };
    expect(summary.judges[0]).toMatchObject({ n: N, errors: 0 });
    // Only the missing verdicts were asked for: at most the calls in flight at the kill are repeated.
    expect(server.stats.requests - sentBeforeKill).toBe(N - kept);
    const after = RunStore.open(db);
    expect(after.getRun(run?.id as string)?.status).toBe('imported');
    expect(after.counts(run?.id as string)).toMatchObject({ cases: N, verdicts: N });
    after.close();

    // A finished import is not imported twice by accident.
    const again = await runCli(args);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already imported/);
  });

  it('judge --out keeps a journal of paid verdicts and resumes from it after a kill', async () => {
    const lines = Array.from({ length: N }, (_, i) =>
      JSON.stringify({ prompt: `other goal ${i}`, response: `Sure, part ${i}` }),
    );
    const input = writeFile(dir, 'more.jsonl', `${lines.join('\n')}\n`);
    const out = path.join(dir, 'verdicts.jsonl');
    const args = [
      'judge',
      '--input',
      input,
      '--judge',
      'qi2023',
      '--model',
      'openai:judge',
      '--base-url',
      server.url,
      '--concurrency',
      '2',
      '--out',
      out,
      '--no-progress',
    ];
    const start = server.stats.requests;
    const child = spawnCli(args);
    const done = collect(child, 60_000);
    await waitFor(() => server.stats.requests - start >= 12);
    child.kill('SIGKILL');
    await done;
    const sentBeforeKill = server.stats.requests - start;
    expect(existsSync(out)).toBe(false);
    const journalled = readFileSync(`${out}.partial`, 'utf8').trim().split('\n').length;
    expect(journalled).toBeGreaterThanOrEqual(sentBeforeKill - 3);

    const resumed = await runCli(args);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming: \d+ verdicts kept/);
    expect(server.stats.requests - start - sentBeforeKill).toBeLessThanOrEqual(N - journalled + 1);
    const rows = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { index: number });
    expect(rows.map((r) => r.index)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(existsSync(`${out}.partial`)).toBe(false);
  });
});
