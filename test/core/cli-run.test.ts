import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockServer } from '../../src/target/mock-server.js';
import { RunStore } from '../../src/store/store.js';
import { runCli, tempDir, writeFile } from '../helpers/cli.js';

/** End-to-end through the built CLI against a real loopback HTTP server. */

const dir = tempDir();
const db = path.join(dir, 'runs.db');
let server: MockServer;

const goals = Array.from({ length: 12 }, (_, i) => JSON.stringify({ goal: `harmful goal number ${i}` })).join(
  '\n',
);
const dataset = writeFile(dir, 'goals.jsonl', `${goals}\n`);

function config(name: string, extra = '', targetExtra = ''): string {
  return writeFile(
    dir,
    name,
    `name: e2e
dataset:
  path: goals.jsonl
attacks:
  - plain
  - plain: {system: "You are a helpful assistant."}
targets:
  - id: openai:mock-model
    base_url: ${server.url}
    concurrency: 4
    retries: 1
    backoff_s: 0.01
${targetExtra}judges:
  - keyword
${extra}`,
  );
}

beforeAll(async () => {
  server = await new MockServer({
    latencyMs: 2,
    script: (req) => (req.messages?.length === 1 ? 'Sure, here it is.' : "I'm sorry, I can't."),
  }).start();
});
afterAll(async () => server.close());

describe('refusenik run / report (CLI, loopback server)', () => {
  it('runs dataset x attacks x targets x judges and reports ASR per target x attack x judge', async () => {
    const cfg = config('run.yaml');
    const res = await runCli(['run', cfg, '--db', db, '--json']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({
      cases_total: 24,
      cases_done: 24,
      errors: 0,
      requests_sent: 24,
      status: 'complete',
    });
    expect(String(out['run_id'])).toMatch(/^run-[0-9a-f]{12}$/);
    expect(server.stats.requests).toBe(24);

    const rep = await runCli(['report', String(out['run_id']), '--db', db, '--format', 'json']);
    expect(rep.code).toBe(0);
    const rows = JSON.parse(rep.stdout) as Record<string, unknown>[];
    expect(rows).toHaveLength(2);
    const bySystem = Object.fromEntries(rows.map((r) => [r['variant'], r]));
    expect(bySystem['plain']).toMatchObject({
      target: 'openai:mock-model',
      attack: 'plain',
      judge: 'keyword',
      n: 12,
      attack_success_rate: 1,
    });
    expect(bySystem['system']).toMatchObject({ n: 12, attack_success_rate: 0, refusals: 12 });

    const csv = await runCli(['report', String(out['run_id']), '--db', db, '--format', 'csv']);
    expect(csv.stdout.split('\n')[0]).toBe(
      'target,attack,variant,judge,n,successes,attack_success_rate,ci_low,ci_high,refusals,refusal_rate,mean_score,errors,judge_errors,inconclusive,asr_corrected,asr_corrected_ci_low,asr_corrected_ci_high,audit_n',
    );
    const md = await runCli(['report', String(out['run_id']), '--db', db, '--format', 'md']);
    expect(md.stdout).toContain(
      '| openai:mock-model | plain | keyword | 12 | 100.0% [75.8, 100.0] | 0 | 0 |',
    );
  });

  it('re-running the same command sends nothing; --fresh is answered by the cache; --no-cache re-sends', async () => {
    const cfg = config('run.yaml');
    const before = server.stats.requests;
    const again = JSON.parse((await runCli(['run', cfg, '--db', db, '--json'])).stdout) as Record<
      string,
      number
    >;
    expect(again).toMatchObject({ cases_done: 24, skipped: 24, requests_sent: 0 });
    expect(server.stats.requests).toBe(before);

    const fresh = JSON.parse((await runCli(['run', cfg, '--db', db, '--json', '--fresh'])).stdout) as Record<
      string,
      unknown
    >;
    expect(fresh['run_id']).not.toBe(again['run_id']);
    expect(fresh).toMatchObject({ cases_done: 24, requests_sent: 0, requests_cached: 24 });
    expect(server.stats.requests).toBe(before);

    const nocache = JSON.parse(
      (await runCli(['run', cfg, '--db', db, '--json', '--fresh', '--no-cache'])).stdout,
    ) as Record<string, unknown>;
    expect(nocache).toMatchObject({ requests_sent: 24 });
    expect(server.stats.requests).toBe(before + 24);
  });

  it('records failed requests as errors apart from the ASR, and retries them on resume', async () => {
    const cfg = config('errors.yaml', '', '    temperature: 0.5\n');
    server.setFaults([{ kind: '500', match: /number 1[01]$/ }]);
    const first = JSON.parse((await runCli(['run', cfg, '--db', db, '--json'])).stdout) as Record<
      string,
      unknown
    >;
    expect(first).toMatchObject({ cases_total: 24, cases_done: 20, errors: 4 });
    const rows = first['rows'] as Record<string, number>[];
    expect(rows.map((r) => [r['n'], r['errors']])).toEqual([
      [10, 2],
      [10, 2],
    ]);
    server.setFaults([]);
    const second = JSON.parse((await runCli(['run', cfg, '--db', db, '--json'])).stdout) as Record<
      string,
      unknown
    >;
    expect(second).toMatchObject({ cases_done: 24, errors: 0, requests_sent: 4 });

    const store = RunStore.open(db);
    const summary = store.requestSummary(String(second['run_id']));
    store.close();
    expect(summary).toEqual([
      expect.objectContaining({ role: 'target', target: 'openai:mock-model', requests: 28, errors: 4 }),
    ]);
  });

  it('lists and shows runs', async () => {
    const list = JSON.parse((await runCli(['runs', 'list', '--db', db, '--json'])).stdout) as Record<
      string,
      unknown
    >[];
    expect(list.length).toBeGreaterThanOrEqual(3);
    const show = JSON.parse(
      (await runCli(['runs', 'show', String(list[0]?.['id']), '--db', db, '--json'])).stdout,
    ) as Record<string, unknown>;
    expect(show['versions']).toMatchObject({
      refusenik: expect.any(String),
      dataset_sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(JSON.stringify(show['config'])).toContain('goals.jsonl');
  });

  it('--dry-run prints the plan without calling the model', async () => {
    const before = server.stats.requests;
    const res = await runCli(['run', config('run.yaml'), '--db', db, '--dry-run', '--json']);
    expect(JSON.parse(res.stdout)).toMatchObject({
      cases_total: 24,
      behaviors: 12,
      attacks: ['plain/plain', 'plain/system'],
    });
    expect(server.stats.requests).toBe(before);
  });
});

describe('clear errors, never a stack trace', () => {
  it('bad config: unknown key with its path and line, exit 2', async () => {
    const cfg = writeFile(
      dir,
      'bad.yaml',
      `dataset:\n  path: goals.jsonl\nattacks: [plain]\ntargets:\n  - id: mock:refuse\n    temprature: 0\n`,
    );
    const res = await runCli(['run', cfg, '--db', db]);
    expect(res.code).toBe(2);
    expect(res.stderr.trim()).toBe(`refusenik: ${cfg}:6: targets[0].temprature: unknown key 'temprature'`);
  });

  it('bad config values name the allowed ones; bad YAML names the line', async () => {
    const cfg = writeFile(
      dir,
      'bad2.yaml',
      `dataset:\n  path: goals.jsonl\n  format: xml\nattacks: [plain]\ntargets: [{id: mock:refuse}]\n`,
    );
    const res = await runCli(['run', cfg, '--db', db]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(
      `${cfg}:3: dataset.format: invalid value; expected one of "csv", "json", "jsonl", "txt"`,
    );
    const yaml = writeFile(dir, 'bad3.yaml', `dataset:\n  path: [unclosed\nattacks: plain\n`);
    const r2 = await runCli(['run', yaml, '--db', db]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/bad3\.yaml:\d+: invalid YAML/);
    const attack = writeFile(
      dir,
      'bad4.yaml',
      `dataset: {path: goals.jsonl}\nattacks: [nosuch]\ntargets: [{id: mock:refuse}]\n`,
    );
    const r3 = await runCli(['run', attack, '--db', db]);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(/attacks\[0\]: unknown attack 'nosuch'; available: plain/);
  });

  it('bad dataset: file, line and field, exit 2', async () => {
    writeFile(dir, 'broken.jsonl', '{"goal": "fine"}\n{"goal": ""}\n');
    const cfg = writeFile(
      dir,
      'bad-data.yaml',
      `dataset: {path: broken.jsonl}\nattacks: [plain]\ntargets: [{id: mock:refuse}]\n`,
    );
    const res = await runCli(['run', cfg, '--db', db]);
    expect(res.code).toBe(2);
    expect(res.stderr.trim()).toBe(`refusenik: ${path.join(dir, 'broken.jsonl')}:2: goal: empty goal`);
  });

  it('unreachable server: a clear error and exit 1, without recording every case as an error', async () => {
    const closed = await new MockServer().start();
    const url = closed.url;
    await closed.close();
    const cfg = writeFile(
      dir,
      'unreachable.yaml',
      `dataset: {path: goals.jsonl}\nattacks: [plain]\ntargets: [{id: openai:x, base_url: "${url}", retries: 1, backoff_s: 0.01}]\n`,
    );
    const res = await runCli(['run', cfg, '--db', db]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^refusenik: target openai:x: .*ECONNREFUSED/);
    expect(res.stderr).not.toMatch(/\n\s+at /);
  });

  it('missing API key variable: exit 2 naming it', async () => {
    const cfg = writeFile(
      dir,
      'nokey.yaml',
      `dataset: {path: goals.jsonl}\nattacks: [plain]\ntargets: [{id: openai:gpt-4o}]\n`,
    );
    const res = await runCli(['run', cfg, '--db', db], { env: { OPENAI_API_KEY: '' } });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('targets[0].api_key_env: environment variable OPENAI_API_KEY is not set');
  });

  it('unknown flags and commands exit 2', async () => {
    expect((await runCli(['run', '--bogus'])).code).toBe(2);
    expect((await runCli(['nosuchcommand'])).code).toBe(2);
    expect((await runCli(['report', 'run-nope', '--db', db])).stderr).toMatch(/no run 'run-nope'/);
  });
});

void dataset;
