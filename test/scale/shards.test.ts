import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockServer } from '../../src/target/mock-server.js';
import { inShard, parseShard } from '../../src/store/shard.js';
import { runCli, tempDir, writeFile } from '../helpers/cli.js';
import { lastJson } from './helpers.js';

/** Runs sharded across machines (issue 24 item 3): `run --shard i/n` and `runs merge`, through the CLI. */

const dir = tempDir('refusenik-shards-');
const N = 30;
let victim: MockServer;
let guarded: MockServer;
let runId = '';

function config(name: string, extra = ''): string {
  return writeFile(
    dir,
    name,
    `name: sharded
dataset: {path: goals.jsonl}
attacks:
  - plain
  - plain: {system: "You are a careful assistant."}
targets:
  - {id: "openai:victim", base_url: "${victim.url}", concurrency: 4}
  - {id: "openai:guarded", base_url: "${guarded.url}", concurrency: 4}
judges: [keyword]
${extra}`,
  );
}

const db = (name: string): string => path.join(dir, name);

async function run(args: string[]): Promise<Record<string, unknown>> {
  const r = await runCli(['run', ...args, '--json', '--no-progress']);
  expect(r.code, r.stderr).toBe(0);
  return lastJson(r.stdout);
}

/** A store's cases, verdicts and request log as comparable values (no timestamps). */
function contents(file: string): { cases: unknown[]; verdicts: unknown[]; requests: unknown[] } {
  const sql = new Database(file, { readonly: true });
  try {
    return {
      cases: sql
        .prepare(
          `SELECT run_id, case_id, behavior_id, attack, variant, target, sample, status, prompt_json, response, answer,
                  finish_reason, prompt_tokens, completion_tokens, request_cost_usd
           FROM cases ORDER BY case_id`,
        )
        .all(),
      verdicts: sql
        .prepare(
          'SELECT run_id, case_id, judge, refusal, harmful, score, error FROM verdicts ORDER BY case_id, judge',
        )
        .all(),
      requests: sql
        .prepare('SELECT run_id, case_id, role, source, target, status FROM requests ORDER BY case_id, role')
        .all(),
    };
  } finally {
    sql.close();
  }
}

beforeAll(async () => {
  victim = await new MockServer({ script: 'comply' }).start();
  guarded = await new MockServer({ script: 'refuse-plain' }).start();
  writeFile(
    dir,
    'goals.jsonl',
    Array.from({ length: N }, (_, i) => JSON.stringify({ goal: `sharded goal ${i}` })).join('\n') + '\n',
  );
  const cfg = config('run.yaml');
  const whole = await run([cfg, '--db', db('whole.db')]);
  expect(whole['status']).toBe('complete');
  runId = String(whole['run_id']);
  for (let i = 0; i < 4; i++) {
    const s = await run([cfg, '--db', db(`shard${i}.db`), '--shard', `${i}/4`]);
    expect(s).toMatchObject({ run_id: runId, status: 'complete', shard: `${i}/4`, plan_cases: N * 4 });
  }
}, 120_000);
afterAll(async () => {
  await victim.close();
  await guarded.close();
});

describe('the split', () => {
  it('parses i/n and refuses anything else', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    for (const bad of ['4/4', '-1/4', '1/0', '1', 'a/b', '1/4/2'])
      expect(() => parseShard(bad)).toThrow(/--shard wants i\/n/);
  });

  it('puts every case id in exactly one shard, by the id alone', () => {
    const ids = Array.from({ length: 2000 }, (_, i) =>
      i.toString(16).padStart(16, '0').split('').reverse().join(''),
    );
    for (const n of [1, 2, 3, 4, 7]) {
      const owners = ids.map((id) =>
        Array.from({ length: n }, (_, i) => i).filter((i) => inShard(id, { index: i, count: n })),
      );
      expect(owners.every((o) => o.length === 1)).toBe(true);
    }
  });

  it('gives the shards disjoint shares of the plan under one run id, and runs show says which shard a store is', async () => {
    const ids = [0, 1, 2, 3].map((i) =>
      contents(db(`shard${i}.db`)).cases.map((c) => (c as { case_id: string }).case_id),
    );
    const all = ids.flat();
    expect(all.length).toBe(N * 4);
    expect(new Set(all).size).toBe(N * 4);
    expect(ids.every((s) => s.length > 0 && s.length < N * 4)).toBe(true);
    const show = await runCli(['runs', 'show', runId, '--db', db('shard1.db'), '--json']);
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({
      shard: { index: 1, count: 4, cases: ids[1]?.length, plan_cases: N * 4, stored: ids[1]?.length },
    });
    const text = await runCli(['runs', 'show', runId, '--db', db('shard1.db')]);
    expect(text.stdout).toContain(`shard 1/4: holds ${ids[1]?.length} of its ${ids[1]?.length} cases`);
    expect(text.stdout).toContain(`of the plan's ${N * 4}`);
  });

  it('refuses another shard (or the whole run) in a shard’s store, and --fresh with --shard', async () => {
    const cfg = path.join(dir, 'run.yaml');
    const other = await runCli(['run', cfg, '--db', db('shard0.db'), '--shard', '1/4', '--json']);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/holds shard 0\/4 of run .*; this command runs shard 1\/4/);
    const whole = await runCli(['run', cfg, '--db', db('shard0.db'), '--json']);
    expect(whole.code).toBe(2);
    expect(whole.stderr).toMatch(/this command runs the whole run/);
    const fresh = await runCli(['run', cfg, '--db', db('fresh.db'), '--shard', '0/4', '--fresh', '--json']);
    expect(fresh.code).toBe(2);
    expect(fresh.stderr).toMatch(/--fresh/);
  });
});

describe('runs merge', () => {
  const shards = [0, 1, 2, 3].map((i) => db(`shard${i}.db`));

  it('merges 4 shards into the unsharded run, case for case, with the same report and compare figures', async () => {
    const m = await runCli(['runs', 'merge', ...shards, '--db', db('merged.db'), '--json']);
    expect(m.code, m.stderr).toBe(0);
    expect(JSON.parse(m.stdout)).toMatchObject({
      run_id: runId,
      status: 'complete',
      plan_cases: N * 4,
      cases: N * 4,
      duplicates: 0,
      missing_shards: [],
    });
    expect(contents(db('merged.db'))).toEqual(contents(db('whole.db')));
    // Report rows come in the order groups were first stored (finishing order): the figures are compared
    // group by group.
    const sorted = (out: string, format: string): unknown =>
      format === 'json'
        ? (JSON.parse(out) as Record<string, unknown>[]).map((r) => JSON.stringify(r)).sort()
        : out.trim().split('\n').sort();
    for (const format of ['json', 'csv', 'md']) {
      const a = await runCli(['report', runId, '--format', format, '--db', db('whole.db')]);
      const b = await runCli(['report', runId, '--format', format, '--db', db('merged.db')]);
      expect(a.code, a.stderr).toBe(0);
      expect(b.code, b.stderr).toBe(0);
      if (format === 'md') expect(b.stdout.length).toBe(a.stdout.length);
      else expect(sorted(b.stdout, format)).toEqual(sorted(a.stdout, format));
    }
    const compare = [
      'compare',
      runId,
      '--target-a',
      'openai:victim',
      '--target-b',
      'openai:guarded',
      '--json',
    ];
    const ca = await runCli([...compare, '--db', db('whole.db')]);
    const cb = await runCli([...compare, '--db', db('merged.db')]);
    expect(ca.code, ca.stderr).toBe(0);
    expect(JSON.parse(cb.stdout)).toEqual(JSON.parse(ca.stdout));
    const show = await runCli(['runs', 'show', runId, '--db', db('merged.db'), '--json']);
    const info = JSON.parse(show.stdout) as Record<string, unknown>;
    expect(info).toMatchObject({ status: 'complete', cases_total: N * 4 });
    expect(info['shard']).toBeUndefined();
  });

  it('is idempotent on duplicate cases: a shard given twice, or the whole run beside its shards, changes nothing', async () => {
    const twice = await runCli([
      'runs',
      'merge',
      ...shards,
      shards[1] as string,
      '--db',
      db('twice.db'),
      '--json',
    ]);
    expect(twice.code, twice.stderr).toBe(0);
    const r = JSON.parse(twice.stdout) as { duplicates: number; inputs: { kept: number }[] };
    expect(r.duplicates).toBeGreaterThan(0);
    expect(r.inputs.at(-1)?.kept).toBe(0);
    expect(contents(db('twice.db'))).toEqual(contents(db('whole.db')));
    const mixed = await runCli([
      'runs',
      'merge',
      db('whole.db'),
      ...shards,
      '--db',
      db('mixed.db'),
      '--json',
    ]);
    expect(mixed.code, mixed.stderr).toBe(0);
    expect(JSON.parse(mixed.stdout)).toMatchObject({ duplicates: N * 4, cases: N * 4 });
    expect(contents(db('mixed.db'))).toEqual(contents(db('whole.db')));
    // Merging again over the same output: refused unless --replace, which gives the same run.
    const again = await runCli(['runs', 'merge', ...shards, '--db', db('twice.db')]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already holds run .*--replace/);
    const replaced = await runCli([
      'runs',
      'merge',
      ...shards,
      '--db',
      db('twice.db'),
      '--replace',
      '--json',
    ]);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(contents(db('twice.db'))).toEqual(contents(db('whole.db')));
  });

  it('keeps an answered copy of a case over an errored one, and counts a missing shard', async () => {
    // A copy of shard 2 whose cases all errored: merged after the real one or before it, the answers win.
    const broken = db('shard2-broken.db');
    const src = new Database(shards[2] as string, { readonly: true });
    await src.backup(broken);
    src.close();
    const b = new Database(broken);
    b.prepare(
      "UPDATE cases SET status = 'error', response = NULL, answer = NULL, error = 'HTTP 500', error_kind = 'http'",
    ).run();
    b.prepare('DELETE FROM verdicts').run();
    b.close();
    const m = await runCli([
      'runs',
      'merge',
      shards[0] as string,
      broken,
      shards[1] as string,
      shards[2] as string,
      shards[3] as string,
      '--db',
      db('prefer.db'),
      '--json',
    ]);
    expect(m.code, m.stderr).toBe(0);
    expect(contents(db('prefer.db'))).toEqual(contents(db('whole.db')));
    const partial = await runCli([
      'runs',
      'merge',
      shards[0] as string,
      broken,
      '--db',
      db('partial.db'),
      '--json',
    ]);
    expect(partial.code, partial.stderr).toBe(0);
    const p = JSON.parse(partial.stdout) as Record<string, unknown>;
    expect(p).toMatchObject({ status: 'incomplete', missing_shards: [1, 3] });
    expect(p['errors']).toBeGreaterThan(0);
  });

  it('refuses stores of different configs or datasets, naming each store and its hashes', async () => {
    const other = config('other.yaml', 'samples: 1\n');
    await run([other, '--db', db('other.db'), '--shard', '1/4']);
    const r = await runCli(['runs', 'merge', shards[0] as string, db('other.db'), '--db', db('bad.db')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/different configs, not shards of one run/);
    expect(r.stderr).toContain(shards[0] as string);
    expect(r.stderr).toContain(db('other.db'));
    expect(r.stderr).toMatch(/config sha256 [0-9a-f]{12}, dataset sha256 [0-9a-f]{12}/);

    // The same config on an edited dataset: a shard of another run.
    const edited = path.join(dir, 'edited');
    mkdirSync(edited, { recursive: true });
    writeFileSync(
      path.join(edited, 'goals.jsonl'),
      Array.from({ length: N }, (_, i) => JSON.stringify({ goal: `edited goal ${i}` })).join('\n') + '\n',
    );
    const cfg2 = path.join(edited, 'run.yaml');
    writeFileSync(cfg2, readFileSync(path.join(dir, 'run.yaml')));
    await run([cfg2, '--db', db('edited.db'), '--shard', '2/4']);
    const d = await runCli(['runs', 'merge', shards[0] as string, db('edited.db'), '--db', db('bad2.db')]);
    expect(d.code).toBe(2);
    expect(d.stderr).toMatch(/different datasets, not shards of one run/);
    expect(d.stderr).toContain(db('edited.db'));
  });

  it('never writes onto one of its inputs', async () => {
    const r = await runCli(['runs', 'merge', ...shards, '--db', shards[3] as string]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is one of the stores to merge .*write the merged run to a new file/);
    expect(contents(shards[3] as string).cases.length).toBeLessThan(N * 4);
  });
});
