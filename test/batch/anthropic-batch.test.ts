import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchMockServer, type BatchPlan, type RequestFault } from '../../src/batch/mock-server.js';
import { RunStore } from '../../src/store/store.js';
import { runCli, tempDir, writeFile } from '../helpers/cli.js';

/**
 * Batch delivery to Anthropic's Message Batches API (loopback server): create, retrieve until `ended`, the
 * results JSONL at results_url (succeeded, errored, expired), the key sent and never stored.
 */

const dir = tempDir('refusenik-batch-anthropic-');
const N = 8;
const KEY = 'sk-ant-batch-test-0123456789abcdef';
let plans: Record<number, BatchPlan> = {};
let fault: ((text: string) => RequestFault | undefined) | undefined;
let server: BatchMockServer;

beforeAll(async () => {
  server = await new BatchMockServer({
    apiKey: KEY,
    plan: (i) => plans[i] ?? {},
    fault: (text) => fault?.(text),
  }).start();
  const goals = Array.from({ length: N }, (_, i) => JSON.stringify({ goal: `task ${i}` })).join('\n');
  writeFile(dir, 'goals.jsonl', `${goals}\n`);
});
afterAll(async () => server.close());

function config(name: string): string {
  return writeFile(
    dir,
    name,
    `dataset: {path: goals.jsonl}
attacks: [plain]
targets:
  - id: anthropic:claude-mock
    base_url: ${server.origin}
    api_key_env: BATCH_TEST_KEY
    delivery: batch
    batch_poll_s: 0.02
    max_tokens: 64
    price: {input_per_mtok: 3, output_per_mtok: 15, batch_input_per_mtok: 1, batch_output_per_mtok: 5}
judges: [keyword]
`,
  );
}

const env = { BATCH_TEST_KEY: KEY };

describe('batch delivery, Anthropic Message Batches (CLI, loopback server)', () => {
  it('submits one batch, polls it to ended, reads the results JSONL; the key never reaches the store', async () => {
    const db = path.join(dir, 'ok.db');
    const index = server.stats.batchesCreated;
    const res = await runCli(['run', config('ok.yaml'), '--db', db, '--json'], { env });
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ status: 'complete', cases_done: N, errors: 0 });
    expect(server.stats.batches.slice(index).map((b) => b.customIds.length)).toEqual([N]);
    const id = server.stats.batches[index]!.id;
    expect(id).toMatch(/^msgbatch_/);
    // in_progress twice, then ended.
    expect(server.stats.retrieves.get(id)).toBe(3);
    expect(server.stats.liveRequests).toBe(0);
    const store = RunStore.openReadOnly(db);
    try {
      const runId = String(out['run_id']);
      const cases = [...store.iterateCases(runId)];
      expect(cases.map((c) => c.response)).toEqual(Array.from({ length: N }, (_, i) => `Sure: task ${i}`));
      expect(cases.every((c) => c.finish_reason === 'end_turn')).toBe(true);
      // The configured batch price, not half the live one.
      const [t] = store.requestSummary(runId);
      expect(t!.cost_usd).toBeCloseTo((t!.prompt_tokens * 1 + t!.completion_tokens * 5) / 1e6, 12);
      expect(store.batches.forRun(runId)).toEqual([
        expect.objectContaining({
          id,
          provider: 'anthropic',
          state: 'collected',
          provider_status: 'ended',
          url: '/v1/messages',
        }),
      ]);
    } finally {
      store.close();
    }
    const bytes = readFileSync(db);
    expect(bytes.includes(Buffer.from(KEY))).toBe(false);
  });

  it('an expired half of a batch and transient errors are re-queued; an invalid request fails alone', async () => {
    const db = path.join(dir, 'mixed.db');
    const index = server.stats.batchesCreated;
    plans = { [index]: { outcome: 'expired', done: 4 } };
    let overloaded = 0;
    fault = (text) =>
      text === 'task 1'
        ? {
            status: 400,
            type: 'invalid_request_error',
            message: 'messages: text content blocks must be non-empty',
          }
        : text === 'task 2' && overloaded++ === 0
          ? { status: 529, type: 'overloaded_error', message: 'Overloaded' }
          : undefined;
    try {
      const res = await runCli(['run', config('mixed.yaml'), '--db', db, '--json'], { env });
      expect(res.code).toBe(1);
      const out = JSON.parse(res.stdout) as Record<string, unknown>;
      expect(out).toMatchObject({ status: 'incomplete', cases_done: N - 1, errors: 1 });
      const [first, second, third] = server.stats.batches.slice(index);
      expect(third).toBeUndefined();
      expect(first!.customIds).toHaveLength(N);
      // The expired four (tasks 4-7) and the overloaded one (task 2), nothing else.
      expect(second!.customIds).toHaveLength(5);
      expect(new Set(second!.customIds)).toEqual(
        new Set([first!.customIds[2], ...first!.customIds.slice(4)]),
      );
      const store = RunStore.openReadOnly(db);
      const failed = [...store.iterateCases(String(out['run_id']))].filter((c) => c.status === 'error');
      store.close();
      expect(failed.map((c) => [c.goal, c.error_kind])).toEqual([['task 1', 'http']]);
      expect(failed[0]!.error).toContain(
        'invalid_request_error: messages: text content blocks must be non-empty',
      );
    } finally {
      fault = undefined;
      plans = {};
    }
  });

  it('a missing key is an error naming the field, before anything is sent', async () => {
    const before = server.stats.batchesCreated;
    const res = await runCli(['run', config('nokey.yaml'), '--db', path.join(dir, 'nokey.db'), '--json'], {
      env: { BATCH_TEST_KEY: '' },
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('targets[0].api_key_env');
    expect(server.stats.batchesCreated).toBe(before);
  });
});
