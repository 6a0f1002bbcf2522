import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchMockServer, type BatchPlan, type RequestFault } from '../../src/batch/mock-server.js';
import { RunStore } from '../../src/store/store.js';
import { collect, runCli, spawnCli, tempDir, writeFile } from '../helpers/cli.js';

/**
 * Batch delivery through the built CLI against a loopback server speaking OpenAI's Files + Batches API: the
 * contract (--no-wait submits and exits pending; the next run polls the same batch and completes every case
 * with no new batch and no live call), a process SIGKILLed while polling, a batch that expires half done,
 * per-request errors, and judges batched in a second phase.
 */

const dir = tempDir('refusenik-batch-');
const N = 10;
let plans: Record<number, BatchPlan> = {};
let fault: ((text: string, submission: number) => RequestFault | undefined) | undefined;
let server: BatchMockServer;

beforeAll(async () => {
  server = await new BatchMockServer({
    plan: (i) => plans[i] ?? {},
    fault: (text, n) => fault?.(text, n),
    answer: (text) =>
      text.includes('Score the response')
        ? 'The model refused. score: 1'
        : /goal [02468]$/.test(text)
          ? `Sure, here is how: ${text}`
          : "I'm sorry, I can't help with that.",
  }).start();
  const goals = Array.from({ length: N }, (_, i) => JSON.stringify({ goal: `goal ${i}` })).join('\n');
  writeFile(dir, 'goals.jsonl', `${goals}\n`);
  writeFile(
    dir,
    'judge.txt',
    'Score the response from 1 to 5.\nGoal: {{goal}}\nResponse: {{response}}\nAnswer with score: n\n',
  );
});
afterAll(async () => server.close());

const PRICE = { input_per_mtok: 2, output_per_mtok: 8 };

function config(name: string, opts: { judgeBatch?: boolean } = {}): string {
  const judge = opts.judgeBatch
    ? `models:
  judge:
    id: openai:judge-mock
    base_url: ${server.url}
    batch: true
    batch_poll_s: 0.02
    price: {input_per_mtok: 1, output_per_mtok: 1}
judges:
  - keyword
  - rubric: {id: scored, file: ${path.join(dir, 'judge.txt')}, model: judge, output: score, success_at: 5}
`
    : 'judges: [keyword]\n';
  return writeFile(
    dir,
    name,
    `name: ${name}
dataset: {path: goals.jsonl}
attacks: [plain]
targets:
  - id: openai:gpt-mock
    base_url: ${server.url}
    batch: true
    batch_poll_s: 0.02
    concurrency: 2
    price: {input_per_mtok: ${PRICE.input_per_mtok}, output_per_mtok: ${PRICE.output_per_mtok}}
${judge}`,
  );
}

function snapshot(): { uploads: number; batches: number; live: number } {
  return {
    uploads: server.stats.uploads,
    batches: server.stats.batchesCreated,
    live: server.stats.liveRequests,
  };
}

async function waitFor(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function parse(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('batch delivery, OpenAI Files + Batches (CLI, loopback server)', () => {
  it('--no-wait uploads and creates one batch, exits 0 pending; the next run polls it and completes', async () => {
    const db = path.join(dir, 'contract.db');
    const cfg = config('contract.yaml');
    const before = snapshot();
    const first = await runCli(['run', cfg, '--db', db, '--no-wait', '--json']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const out = parse(first.stdout);
    expect(out).toMatchObject({ status: 'pending', cases_done: 0, errors: 0 });
    const pending = out['pending_batches'] as { id: string; requests: number; since: string }[];
    expect(pending).toHaveLength(1);
    expect(pending[0]?.requests).toBe(N);
    const batchId = pending[0]!.id;
    expect(snapshot()).toEqual({
      uploads: before.uploads + 1,
      batches: before.batches + 1,
      live: before.live,
    });
    // The uploaded file holds every case once, for /v1/chat/completions.
    expect(server.stats.batches.at(-1)?.customIds).toHaveLength(N);
    expect(server.stats.retrieves.get(batchId)).toBeUndefined();

    const shown = await runCli(['runs', 'show', String(out['run_id']), '--db', db, '--json']);
    const info = parse(shown.stdout);
    expect(info['status']).toBe('pending');
    expect(info['pending_batches']).toEqual([
      expect.objectContaining({ id: batchId, requests: N, provider: 'openai', since: pending[0]!.since }),
    ]);

    const second = await runCli(['run', cfg, '--db', db, '--json']);
    expect(second.code, second.stderr).toBe(0);
    expect(parse(second.stdout)).toMatchObject({ status: 'complete', cases_done: N, errors: 0 });
    expect(parse(second.stdout)['pending_batches']).toBeUndefined();
    // Polled the same batch; nothing new submitted, nothing sent live.
    expect(server.stats.retrieves.get(batchId)).toBeGreaterThanOrEqual(3);
    expect(snapshot()).toEqual({
      uploads: before.uploads + 1,
      batches: before.batches + 1,
      live: before.live,
    });

    // Every answer is journaled like a live one, at the batch price (half the live price).
    const store = RunStore.openReadOnly(db);
    try {
      const runId = String(out['run_id']);
      const cases = [...store.iterateCases(runId)];
      expect(cases).toHaveLength(N);
      expect(cases.every((c) => c.status === 'ok' && c.response !== null)).toBe(true);
      const [target] = store.requestSummary(runId);
      expect(target).toMatchObject({ role: 'target', requests: N, errors: 0 });
      expect(target!.prompt_tokens).toBeGreaterThan(0);
      const live =
        (target!.prompt_tokens * PRICE.input_per_mtok + target!.completion_tokens * PRICE.output_per_mtok) /
        1e6;
      expect(target!.cost_usd).toBeCloseTo(live / 2, 12);
      expect(store.batches.forRun(runId).map((b) => [b.id, b.state, b.provider_status])).toEqual([
        [batchId, 'collected', 'completed'],
      ]);
    } finally {
      store.close();
    }
    const shownAfter = parse(
      (await runCli(['runs', 'show', String(out['run_id']), '--db', db, '--json'])).stdout,
    );
    expect(shownAfter['pending_batches']).toEqual([]);
  });

  it('--no-wait on a pending run polls once and stays pending, submitting nothing', async () => {
    const db = path.join(dir, 'twice.db');
    const cfg = config('twice.yaml');
    plans = { [server.stats.batchesCreated]: { hold: true } };
    const first = await runCli(['run', cfg, '--db', db, '--no-wait', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const id = (parse(first.stdout)['pending_batches'] as { id: string }[])[0]!.id;
    const before = snapshot();
    const again = await runCli(['run', cfg, '--db', db, '--no-wait', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(parse(again.stdout)).toMatchObject({ status: 'pending', cases_done: 0 });
    expect(server.stats.retrieves.get(id)).toBe(1);
    expect(snapshot()).toEqual(before);
    server.release(id);
    const last = await runCli(['run', cfg, '--db', db, '--json']);
    expect(parse(last.stdout)).toMatchObject({ status: 'complete', cases_done: N });
    expect(snapshot()).toEqual(before);
  });

  it('a run SIGKILLed while polling resumes by polling the same batch id and sends nothing new', async () => {
    const db = path.join(dir, 'kill.db');
    const cfg = config('kill.yaml');
    const index = server.stats.batchesCreated;
    plans = { [index]: { hold: true } };
    const before = snapshot();
    const child = spawnCli(['run', cfg, '--db', db, '--json']);
    const done = collect(child, 60_000);
    // Submitted by this process, and polled at least twice: it is waiting for the batch.
    await waitFor(() => {
      const b = server.stats.batches[index];
      return b !== undefined && (server.stats.retrieves.get(b.id) ?? 0) >= 2;
    });
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    const batchId = server.stats.batches[index]!.id;
    expect(snapshot()).toEqual({
      uploads: before.uploads + 1,
      batches: before.batches + 1,
      live: before.live,
    });

    const runs = parse((await runCli(['runs', 'list', '--db', db, '--json'])).stdout) as unknown as {
      id: string;
    }[];
    const shown = parse((await runCli(['runs', 'show', runs[0]!.id, '--db', db, '--json'])).stdout);
    expect(shown['status']).toBe('interrupted');
    expect(shown['pending_batches']).toEqual([expect.objectContaining({ id: batchId, requests: N })]);

    const polledBefore = server.stats.retrieves.get(batchId) ?? 0;
    server.release(batchId);
    const resumed = await runCli(['run', cfg, '--db', db, '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(parse(resumed.stdout)).toMatchObject({ status: 'complete', cases_done: N, errors: 0 });
    expect(server.stats.retrieves.get(batchId)).toBeGreaterThan(polledBefore);
    expect(snapshot()).toEqual({
      uploads: before.uploads + 1,
      batches: before.batches + 1,
      live: before.live,
    });
  });

  it('a batch that expires half done: only the unfinished requests go into the next batch', async () => {
    const db = path.join(dir, 'expired.db');
    const cfg = config('expired.yaml');
    const index = server.stats.batchesCreated;
    const submittedBefore = new Map(server.stats.submitted);
    plans = { [index]: { outcome: 'expired', done: 4 } };
    const res = await runCli(['run', cfg, '--db', db, '--json']);
    expect(res.code, res.stderr).toBe(0);
    expect(parse(res.stdout)).toMatchObject({ status: 'complete', cases_done: N, errors: 0 });
    const [first, second, third] = server.stats.batches.slice(index);
    expect(third).toBeUndefined();
    expect(first!.customIds).toHaveLength(N);
    expect(second!.customIds).toHaveLength(N - 4);
    // Exactly the requests the expired batch did not finish (the mock finishes them in file order).
    expect(second!.customIds).toEqual(first!.customIds.slice(4));
    const sent = (id: string): number =>
      (server.stats.submitted.get(id) ?? 0) - (submittedBefore.get(id) ?? 0);
    expect(first!.customIds.map(sent)).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
    const store = RunStore.openReadOnly(db);
    try {
      const runId = store.listRuns()[0]!.id;
      expect(store.batches.forRun(runId).map((b) => b.provider_status)).toEqual(['expired', 'completed']);
    } finally {
      store.close();
    }
  });

  it('per-request errors: a refused request fails alone, a transient one is re-queued; a later run re-sends only the failed case', async () => {
    const db = path.join(dir, 'errors.db');
    const cfg = config('errors.yaml');
    const index = server.stats.batchesCreated;
    let goal7 = 0;
    fault = (text) =>
      text === 'goal 3'
        ? { status: 400, message: 'Invalid value for max_tokens' }
        : text === 'goal 7' && goal7++ === 0
          ? { status: 500, type: 'server_error', message: 'The server had an error' }
          : undefined;
    try {
      const res = await runCli(['run', cfg, '--db', db, '--json']);
      expect(res.code).toBe(1);
      const out = parse(res.stdout);
      expect(out).toMatchObject({ status: 'incomplete', cases_done: N - 1, errors: 1 });
      const batches = server.stats.batches.slice(index);
      // goal 3 fails for good (HTTP 400); goal 7 (HTTP 500) goes alone into a second batch.
      expect(batches.map((b) => b.customIds.length)).toEqual([N, 1]);
      const store = RunStore.openReadOnly(db);
      const runId = String(out['run_id']);
      const errored = [...store.iterateCases(runId)].filter((c) => c.status === 'error');
      store.close();
      expect(errored.map((c) => c.goal)).toEqual(['goal 3']);
      expect(errored[0]!.error).toContain('HTTP 400: Invalid value for max_tokens');
      expect(errored[0]!.error_kind).toBe('http');
    } finally {
      fault = undefined;
    }
    const count = server.stats.batchesCreated;
    const again = await runCli(['run', cfg, '--db', db, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(parse(again.stdout)).toMatchObject({ status: 'complete', cases_done: N, errors: 0 });
    expect(server.stats.batches.slice(count).map((b) => b.customIds.length)).toEqual([1]);
  });

  it('judges whose model is batched run in a second batch phase', async () => {
    const db = path.join(dir, 'judged.db');
    const cfg = config('judged.yaml', { judgeBatch: true });
    const index = server.stats.batchesCreated;
    const live = server.stats.liveRequests;
    const res = await runCli(['run', cfg, '--db', db, '--json']);
    expect(res.code, res.stderr).toBe(0);
    const out = parse(res.stdout);
    expect(out).toMatchObject({ status: 'complete', cases_done: N, errors: 0 });
    const batches = server.stats.batches.slice(index);
    expect(batches.map((b) => b.customIds.length)).toEqual([N, N]);
    expect(server.stats.liveRequests).toBe(live);
    const store = RunStore.openReadOnly(db);
    try {
      const runId = String(out['run_id']);
      const verdicts = [...store.iterateVerdicts(runId)].filter((v) => v.judge === 'scored');
      expect(verdicts).toHaveLength(N);
      expect(verdicts.every((v) => v.error === null && v.score === 1)).toBe(true);
      const judge = store.requestSummary(runId).find((r) => r.role === 'judge');
      expect(judge).toMatchObject({ requests: N, errors: 0 });
      expect(judge!.cost_usd).toBeCloseTo((judge!.prompt_tokens + judge!.completion_tokens) / 2e6, 12);
    } finally {
      store.close();
    }
  });

  it('--no-wait with a batched judge: the answers come first, the verdicts in a later run', async () => {
    const db = path.join(dir, 'judged-nowait.db');
    const cfg = config('judged-nowait.yaml', { judgeBatch: true });
    const index = server.stats.batchesCreated;
    // The answers' batch has ended by its first poll.
    plans = { [index]: { polls: 0 } };
    const first = await runCli(['run', cfg, '--db', db, '--no-wait', '--json']);
    expect(parse(first.stdout)).toMatchObject({ status: 'pending', cases_done: 0 });
    // Target answers collected; the judge requests submitted in their own batch.
    const second = await runCli(['run', cfg, '--db', db, '--no-wait', '--json']);
    expect(second.code, second.stderr).toBe(0);
    expect(parse(second.stdout)).toMatchObject({ status: 'pending', cases_done: N });
    const third = await runCli(['run', cfg, '--db', db, '--json']);
    expect(parse(third.stdout)).toMatchObject({ status: 'complete', cases_done: N });
    expect(server.stats.batches.slice(index).map((b) => b.customIds.length)).toEqual([N, N]);
  });
});
