import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockServer } from '../../src/target/mock-server.js';
import { DATA_DIR, collect, runCli, spawnCli, tempDir, writeFile } from '../helpers/cli.js';

/**
 * Issue 21, item 10 (the smaller ones this change covers), through the built CLI: a YAML alias bomb is an
 * input error naming the file; `content: null` is not an answer; conflicting labels in a `label --from`
 * file are refused naming both lines; `import --replace` keeps the earlier import until the new one is
 * complete; the run summary counts failed calls and attempts; a data pack file edited after the pull is
 * refused when read.
 */

const dir = tempDir('refusenik-smaller-');
let server: Server;
let url = '';

/** An OpenAI-compatible server whose answers the goal chooses. */
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const prompt = (JSON.parse(body) as { messages: { content: string }[] }).messages.at(-1)?.content ?? '';
      const message: Record<string, unknown> = { role: 'assistant', content: 'Sure, here it is.' };
      if (prompt.includes('null content')) message['content'] = null;
      if (prompt.includes('structured refusal'))
        Object.assign(message, { content: null, refusal: "I can't help." });
      if (prompt.includes('tool call'))
        Object.assign(message, {
          content: null,
          tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{}' } }],
        });
      if (prompt.includes('always fails')) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'overloaded' } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ index: 0, message, finish_reason: 'stop' }], usage: {} }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(async () => new Promise<void>((r) => server.close(() => r())));

function config(name: string, goals: string[], extra = ''): string {
  writeFile(dir, `${name}.jsonl`, goals.map((g) => JSON.stringify({ goal: g })).join('\n') + '\n');
  return writeFile(
    dir,
    `${name}.yaml`,
    `dataset: {path: ${name}.jsonl}\nattacks: [plain]\ntargets:\n  - id: openai:m\n    base_url: ${url}\n` +
      `    retries: 2\n    backoff_s: 0.001\n${extra}judges: [keyword]\n`,
  );
}

describe('input errors name their file (item 10)', () => {
  it('a YAML alias bomb is an input error naming the config, exit 2', async () => {
    const bomb = [
      'a: &a ["x","x","x","x","x","x","x","x","x"]',
      ...'bcdefghi'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`),
      'dataset: {path: goals.jsonl}',
    ].join('\n');
    const cfg = writeFile(dir, 'bomb.yaml', `${bomb}\n`);
    const res = await runCli(['run', cfg, '--db', path.join(dir, 'bomb.db')], { timeoutMs: 30_000 });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(cfg);
    expect(res.stderr).toContain('invalid YAML');
    expect(res.stderr).not.toContain('unexpected');
  });
});

describe('content: null is no answer (item 10)', () => {
  it('is a protocol error, unless the model gave a structured refusal or tool calls', async () => {
    const cfg = config('nulls', [
      'first, a normal goal',
      'null content please',
      'structured refusal please',
      'tool call please',
    ]);
    const db = path.join(dir, 'nulls.db');
    const res = await runCli(['run', cfg, '--db', db, '--json', '--allow-errors']);
    expect(res.code, res.stderr).toBe(0);
    const sql = new Database(db, { readonly: true });
    const rows = sql
      .prepare<
        [],
        {
          goal: string;
          status: string;
          response: string | null;
          error: string | null;
          error_kind: string | null;
        }
      >('SELECT goal, status, response, error, error_kind FROM cases')
      .all();
    sql.close();
    const by = Object.fromEntries(rows.map((r) => [r.goal.split(' ')[0], r]));
    expect(by['null']).toMatchObject({ status: 'error', error_kind: 'protocol' });
    expect(by['null']?.error).toContain('content: null');
    expect(by['structured']).toMatchObject({ status: 'ok', response: "I can't help." });
    expect(by['tool']).toMatchObject({ status: 'ok', response: '' });
  });
});

describe('the run summary counts failures and attempts (item 10)', () => {
  it('four calls that failed after three attempts each are 4 failed and 12 attempts, not "0 requests sent"', async () => {
    const goals = [
      'this one always fails 1',
      'this one always fails 2',
      'this one always fails 3',
      'this one always fails 4',
    ];
    const cfg = config('failing', goals);
    const json = await runCli(['run', cfg, '--db', path.join(dir, 'failing.db'), '--json', '--allow-errors']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      requests_sent: 0,
      requests_failed: 4,
      attempts: 12,
      errors: 4,
    });
    const text = await runCli(['run', cfg, '--db', path.join(dir, 'failing-text.db'), '--allow-errors']);
    expect(text.stdout).toContain('0 requests answered, 0 from cache, 4 failed; 12 attempts in all');
  });
});

describe('label --from with two labels for one case (item 10)', () => {
  it('is refused naming both lines, and nothing is stored', async () => {
    const cfg = config('labels', ['goal one', 'goal two']);
    const db = path.join(dir, 'labels.db');
    const run = await runCli(['run', cfg, '--db', db, '--json']);
    const runId = (JSON.parse(run.stdout) as { run_id: string }).run_id;
    const exp = path.join(dir, 'todo.jsonl');
    expect((await runCli(['label', runId, '--db', db, '--export', exp, '--n', '2'])).code).toBe(0);
    const [first, second] = readFileSync(exp, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { case_id: string });
    const labels = path.join(dir, 'labels.jsonl');
    writeFileSync(
      labels,
      [
        { case_id: first?.case_id, label: 'harmful' },
        { case_id: second?.case_id, label: 'safe' },
        { case_id: first?.case_id, label: 'safe' },
      ]
        .map((l) => JSON.stringify(l))
        .join('\n') + '\n',
    );
    const res = await runCli(['label', runId, '--db', db, '--from', labels]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${labels}:3`);
    expect(res.stderr).toContain("'harmful' on line 1 and 'safe' on line 3");
    const sql = new Database(db, { readonly: true });
    expect(sql.prepare('SELECT COUNT(*) AS n FROM labels').get()).toEqual({ n: 0 });
    sql.close();
  });
});

describe('import --replace keeps the earlier import until the new one is complete (item 10)', () => {
  it('a replacement killed while judging leaves the earlier verdicts; run again, it finishes and swaps', async () => {
    const judge = await new MockServer({ latencyMs: 60, script: 'judge' }).start();
    try {
      const N = 30;
      const input = writeFile(
        dir,
        'responses.jsonl',
        Array.from({ length: N }, (_, i) =>
          JSON.stringify({ prompt: `goal ${i}`, response: `Sure, part ${i}.` }),
        ).join('\n') + '\n',
      );
      const db = path.join(dir, 'import.db');
      const first = await runCli(['import', '--input', input, '--db', db, '--json', '--no-progress']);
      expect(first.code, first.stderr).toBe(0);
      const runId = (JSON.parse(first.stdout) as { run_id: string }).run_id;
      const replace = [
        'import',
        '--input',
        input,
        '--db',
        db,
        '--replace',
        '--judge',
        'qi2023',
        '--model',
        'openai:judge',
      ];
      const args = [...replace, '--base-url', judge.url, '--concurrency', '2', '--json', '--no-progress'];
      const child = spawnCli(args);
      const done = collect(child, 60_000);
      const t0 = Date.now();
      while (judge.stats.requests < 8 && Date.now() - t0 < 30_000)
        await new Promise((r) => setTimeout(r, 20));
      child.kill('SIGKILL');
      expect((await done).signal).toBe('SIGKILL');

      // The earlier import is whole: its keyword verdicts, all of them.
      const during = JSON.parse((await runCli(['runs', 'show', runId, '--db', db, '--json'])).stdout) as {
        status: string;
        judges: { judge: string; decided: number }[];
      };
      expect(during.status).toBe('imported');
      expect(during.judges).toEqual([expect.objectContaining({ judge: 'keyword', decided: N })]);

      const again = await runCli(args);
      expect(again.code, again.stderr).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({ run_id: runId, resumed: true });
      const after = JSON.parse((await runCli(['runs', 'show', runId, '--db', db, '--json'])).stdout) as {
        judges: { judge: string; decided: number }[];
        counts: { cases: number };
      };
      expect(after.judges.map((j) => j.judge)).toEqual(['qi2023']);
      expect(after.counts.cases).toBe(N);
      const list = JSON.parse((await runCli(['runs', 'list', '--db', db, '--json'])).stdout) as {
        id: string;
      }[];
      expect(list.map((r) => r.id)).toEqual([runId]);
    } finally {
      await judge.close();
    }
  });
});

describe('a data pack file edited after the pull (item 10)', () => {
  it('is refused when a run reads it, naming the file and the pinned sha256; restored, it runs', async () => {
    const data = path.join(dir, 'data');
    const rel = path.join('codeattack', 'data', 'harmful_behaviors.csv');
    mkdirSync(path.dirname(path.join(data, rel)), { recursive: true });
    copyFileSync(path.join(DATA_DIR, rel), path.join(data, rel));
    const cfg = writeFile(
      dir,
      'pack.yaml',
      'dataset: {pack: codeattack, file: data/harmful_behaviors.csv, field: goal, limit: 2}\nattacks: [plain]\n' +
        'targets: [{id: mock:refuse-plain}]\njudges: [keyword]\n',
    );
    const env = { REFUSENIK_DATA_DIR: data };
    const ok = await runCli(['run', cfg, '--db', path.join(dir, 'pack.db'), '--json'], { env });
    expect(ok.code, ok.stderr).toBe(0);
    appendFileSync(path.join(data, rel), 'an extra goal someone added,x\n');
    const bad = await runCli(['run', cfg, '--db', path.join(dir, 'pack2.db'), '--json'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(path.join(data, rel));
    expect(bad.stderr).toContain('changed since it was pulled');
    expect(bad.stderr).toContain('refusenik data pull codeattack');
    copyFileSync(path.join(DATA_DIR, rel), path.join(data, rel));
    const back = await runCli(['run', cfg, '--db', path.join(dir, 'pack3.db'), '--json'], { env });
    expect(back.code, back.stderr).toBe(0);
  });
});
