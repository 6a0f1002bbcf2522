import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockServer } from '../../src/target/mock-server.js';
import { collect, runCli, spawnCli, tempDir, writeFile } from '../helpers/cli.js';
import { storeBytes } from './fixture.js';

/**
 * Issue 21, item 5, through the built CLI: a 100-goal run is killed, one goal of its CSV is edited, and
 * `run --resume <id>` must refuse (exit 2) naming the old and the new sha256 and how to start a new run,
 * without touching the store; `runs show` never counts more cases than the plan; the config run again
 * (no --resume) is a new run of its own on the edited dataset.
 */

const dir = tempDir('refusenik-resume-dataset-');
const N = 100;
let server: MockServer;

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

beforeAll(async () => {
  server = await new MockServer({
    latencyMs: 30,
    script: () => "I'm sorry, I can't help with that.",
  }).start();
});
afterAll(async () => server.close());

async function waitFor(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('--resume after the dataset changed (item 5)', () => {
  it('is refused with both sha256 and the way to start afresh; nothing is mixed', async () => {
    const csv = writeFile(
      dir,
      'goals.csv',
      `goal,category\n${Array.from({ length: N }, (_, i) => `harmful goal number ${i},cat${i % 3}`).join('\n')}\n`,
    );
    const cfg = writeFile(
      dir,
      'run.yaml',
      `dataset: {path: goals.csv, category_field: category}\nattacks: [plain]\n` +
        `targets:\n  - id: openai:m\n    base_url: ${server.url}\n    concurrency: 4\njudges: [keyword]\n`,
    );
    const db = path.join(dir, 'runs.db');
    const child = spawnCli(['run', cfg, '--db', db, '--json']);
    const done = collect(child, 60_000);
    await waitFor(() => server.stats.requests >= 30);
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');

    const list = await runCli(['runs', 'list', '--db', db, '--json']);
    expect(list.code).toBe(0);
    const [killed] = JSON.parse(list.stdout) as { id: string; cases_done: number; status: string }[];
    expect(killed?.status).toBe('interrupted');
    const runId = killed?.id as string;
    const oldSha = sha256(csv);

    // Edit one goal.
    writeFileSync(
      csv,
      readFileSync(csv, 'utf8').replace('harmful goal number 7,', 'an edited goal number 7,'),
    );
    const newSha = sha256(csv);
    expect(newSha).not.toBe(oldSha);
    // The killed process may have left finished cases in its journal beside the store; the first command that
    // opens the store for writing commits them (nothing finished is lost). So the first refused resume may add
    // those; a refused resume itself writes nothing.
    const first = await runCli(['run', '--resume', runId, '--db', db]);
    expect(first.code).toBe(2);
    const before = storeBytes(db);
    const sentBefore = server.stats.requests;

    const resumed = await runCli(['run', '--resume', runId, '--db', db]);
    expect(resumed.code).toBe(2);
    expect(resumed.stderr).toContain(csv);
    expect(resumed.stderr).toContain(oldSha);
    expect(resumed.stderr).toContain(newSha);
    expect(resumed.stderr).toContain(`refusenik run ${cfg}`);
    expect(resumed.stderr).toContain('without --resume');
    expect(server.stats.requests).toBe(sentBefore);
    expect(storeBytes(db).equals(before)).toBe(true);
    // A dry run of the resume says the same before anything.
    const dry = await runCli(['run', '--resume', runId, '--db', db, '--dry-run']);
    expect(dry.code).toBe(2);
    expect(dry.stderr).toContain(newSha);

    // The run still holds only its own dataset's cases, never more than its plan.
    const show = await runCli(['runs', 'show', runId, '--db', db, '--json']);
    const info = JSON.parse(show.stdout) as {
      cases_total: number;
      counts: { cases: number };
      versions: { dataset_sha256: string };
    };
    expect(info.cases_total).toBe(N);
    expect(info.counts.cases).toBeLessThanOrEqual(info.cases_total);
    expect(info.versions.dataset_sha256).toBe(oldSha);

    // The way out the message gives: the config again, a new run on the edited dataset.
    const fresh = await runCli(['run', cfg, '--db', db, '--json']);
    expect(fresh.code).toBe(0);
    const summary = JSON.parse(fresh.stdout) as { run_id: string; cases_total: number; cases_done: number };
    expect(summary.run_id).not.toBe(runId);
    expect(summary).toMatchObject({ cases_total: N, cases_done: N });
    const report = await runCli(['report', summary.run_id, '--db', db, '--format', 'json']);
    expect((JSON.parse(report.stdout) as { n: number }[])[0]?.n).toBe(N);

    // Restoring the original file lets the first run resume and finish on its own dataset.
    writeFileSync(
      csv,
      readFileSync(csv, 'utf8').replace('an edited goal number 7,', 'harmful goal number 7,'),
    );
    expect(sha256(csv)).toBe(oldSha);
    const back = await runCli(['run', '--resume', runId, '--db', db, '--json']);
    expect(back.code).toBe(0);
    expect(JSON.parse(back.stdout)).toMatchObject({ run_id: runId, cases_total: N, cases_done: N });
  });
});
