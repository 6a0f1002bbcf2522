import { spawnSync } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { runCli, tempDir, writeFile } from '../helpers/cli.js';
import { storeRun } from './fixture.js';

/**
 * Issue 21, items 3 and 4, through the built CLI against a loopback server that echoes what it was sent:
 *
 * - a key echoed in an error text at every offset across the cut (300 characters of a JSON error message,
 *   200 of a plain body, 80 of malformed JSON), and cut by the server itself at every length: no piece of
 *   it (4 characters or more) reaches the store, its WAL, runs show, any report or the terminal;
 * - credentials in base_url (user:password@ and ?api-key=) are never stored, shown or reported, and a
 *   run that had them resumes only from its config file.
 */

const KEY = 'sk-Q7vT9wLm2XzR4bN8pKd3';
const USER = 'alice-admin';
const PASSWORD = 'PASSWORD-9f8e7d';
const QUERY_KEY = 'QUERYKEY-5a4b3c2d1e';
const dir = tempDir('refusenik-secrets-');
let server: Server;
let origin = '';

/** Every 4-character piece of a secret: none may appear anywhere (so no longer piece can either). */
function pieces(secret: string, n = 4): string[] {
  return Array.from({ length: secret.length - n + 1 }, (_, i) => secret.slice(i, i + n));
}

function expectNoPiece(where: string, text: string, secret = KEY): void {
  const found = pieces(secret).filter((p) => text.includes(p));
  expect(found, `${where} holds pieces of the secret`).toEqual([]);
}

/** What `strings` finds in the store and its write-ahead files, as the issue's probe looked. */
function storeStrings(db: string): string {
  const files = readdirSync(path.dirname(db))
    .filter((f) => f.startsWith(path.basename(db)))
    .map((f) => path.join(path.dirname(db), f));
  expect(files).toContain(db);
  return files.map((f) => spawnSync('strings', ['-a', '-n', '4', f], { encoding: 'utf8' }).stdout).join('\n');
}

const PREFIX = 'the gateway rejected Authorization: Bearer ';

/** An error text whose cut at `cut` characters falls `offset` characters into the key. */
function straddling(cut: number, offset: number): string {
  return `${'x'.repeat(cut - offset - PREFIX.length)}${PREFIX}${KEY} for this model; ask your admin`;
}

function answer(res: ServerResponse, content: string): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      id: 'x',
      object: 'chat.completion',
      model: 'echo',
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
    }),
  );
}

function handle(req: IncomingMessage, res: ServerResponse, body: string): void {
  const prompt = (JSON.parse(body) as { messages: { content: string }[] }).messages.at(-1)?.content ?? '';
  const [mode, n] = prompt.split(' ');
  const offset = Number(n);
  const auth = String(req.headers.authorization);
  expect(auth).toBe(`Bearer ${KEY}`);
  switch (mode) {
    case 'json':
      res.writeHead(400, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ error: { message: straddling(300, offset) } }));
    case 'auth':
      // An authentication failure stops the run at once: its message goes straight to the terminal.
      res.writeHead(401, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ error: { message: straddling(300, offset) } }));
    case 'text':
      res.writeHead(400, { 'content-type': 'text/plain' });
      return void res.end(straddling(200, offset));
    case 'malformed':
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(straddling(80, offset));
    case 'servercut':
      // The server shortens its own message and cuts the key after `offset` characters.
      res.writeHead(400, { 'content-type': 'application/json' });
      return void res.end(
        JSON.stringify({ error: { message: `${'y'.repeat(150)} ${PREFIX}${KEY.slice(0, offset)}...` } }),
      );
    case 'url':
      // Echo the request line (the path carries base_url's query) in an answer and in an error.
      if (offset === 0) return answer(res, `Sure. You called ${req.url ?? ''} with ${auth}`);
      res.writeHead(500, { 'content-type': 'text/plain' });
      return void res.end(`upstream failed for ${req.url ?? ''}`);
    default:
      return answer(res, 'Sure.');
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      try {
        handle(req, res, body);
      } catch (err) {
        res.writeHead(599);
        res.end(String(err));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => new Promise<void>((r) => server.close(() => r())));

/** Every read-only view of a run, with the outputs the user would share. */
async function views(db: string, runId: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const args of [
    ['runs', 'show', runId],
    ['runs', 'show', runId, '--json'],
    ['runs', 'list'],
    ['report', runId, '--format', 'md'],
    ['report', runId, '--format', 'json'],
    ['report', runId, '--format', 'csv'],
  ]) {
    const res = await runCli([...args, '--db', db]);
    expect(res.code, `${args.join(' ')}: ${res.stderr}`).toBe(0);
    out[args.join(' ')] = res.stdout + res.stderr;
  }
  const html = path.join(dir, `${runId}.html`);
  const rep = await runCli(['report', runId, '--db', db, '--format', 'html', '--out', html]);
  expect(rep.code).toBe(0);
  out['report html'] = readFileSync(html, 'utf8');
  return out;
}

describe('a key echoed in error text never survives a cut (item 3)', () => {
  it('every offset of the cut across the key, in JSON, plain and malformed bodies, and cut by the server', async () => {
    // One answered case first: a run whose very first calls fail with 4xx stops as misconfigured.
    const goals: string[] = ['ok 0'];
    for (let o = 0; o <= KEY.length; o++)
      for (const mode of ['json', 'text', 'malformed', 'servercut']) goals.push(`${mode} ${o}`);
    writeFile(dir, 'sweep.jsonl', goals.map((g) => JSON.stringify({ goal: g })).join('\n') + '\n');
    const run = await storeRun(
      dir,
      'sweep',
      // No circuit breaker: every case must reach the server, however many fail in a row.
      `circuit_breaker: 0\ndataset: {path: sweep.jsonl}\nattacks: [plain]\ntargets:\n  - id: openai:echo\n    base_url: ${origin}/v1\n` +
        '    api_key_env: SWEEP_KEY\n    retries: 0\n    concurrency: 1\njudges: [keyword]\n',
      { env: { SWEEP_KEY: KEY }, json: false },
    );
    expectNoPiece('the run summary', run.stdout + run.stderr);

    // Every case reached the server and failed with its echo, stored redacted.
    const sql = new Database(run.db, { readonly: true });
    const errors = sql
      .prepare<[], { goal: string; error: string }>("SELECT goal, error FROM cases WHERE status = 'error'")
      .all();
    sql.close();
    expect(errors).toHaveLength(goals.length - 1);
    for (const e of errors) {
      expectNoPiece(`the stored error of '${e.goal}'`, e.error);
      // Where any of the key was before the cut, the whole marker stands for it (never half a marker).
      const [mode, offset] = e.goal.split(' ');
      if (Number(offset) >= (mode === 'servercut' ? 4 : 1)) expect(e.error, e.goal).toContain('[redacted]');
      expect(e.error).not.toMatch(/\[(r|re|red|reda|redac|redact|redacte)$/);
    }
    expectNoPiece('the store and its WAL', storeStrings(run.db));
    for (const [view, text] of Object.entries(await views(run.db, run.runId))) expectNoPiece(view, text);
  });

  it('an authentication failure, which stops the run, prints no piece either', async () => {
    // A few offsets (each is a whole run): none, the first character, the issue's two, all but the last.
    for (const o of [0, 1, 4, 11, KEY.length - 2, KEY.length - 1]) {
      writeFile(dir, 'auth.jsonl', `${JSON.stringify({ goal: `auth ${o}` })}\n`);
      const cfg = writeFile(
        dir,
        'auth.yaml',
        `dataset: {path: auth.jsonl}\nattacks: [plain]\ntargets:\n  - id: openai:echo\n    base_url: ${origin}/v1\n` +
          '    api_key_env: SWEEP_KEY\n    retries: 0\njudges: [keyword]\n',
      );
      const res = await runCli(['run', cfg, '--db', path.join(dir, 'auth.db')], { env: { SWEEP_KEY: KEY } });
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('HTTP 401');
      expectNoPiece(`the 401 message at offset ${o}`, res.stdout + res.stderr);
    }
  });
});

describe('credentials in base_url are never stored or shown (item 4)', () => {
  it('userinfo and ?api-key= stay out of the store, its WAL, runs show, reports and the terminal', async () => {
    writeFile(dir, 'url.jsonl', '{"goal": "url 0"}\n{"goal": "url 1"}\n');
    const baseUrl = `http://${USER}:${PASSWORD}@127.0.0.1:${new URL(origin).port}/v1?api-key=${QUERY_KEY}`;
    const run = await storeRun(
      dir,
      'url',
      `name: url-creds\ndataset: {path: url.jsonl}\nattacks: [plain]\ntargets:\n  - id: openai:echo\n` +
        `    base_url: "${baseUrl}"\n    api_key_env: SWEEP_KEY\n    retries: 0\njudges: [keyword]\n`,
      { env: { SWEEP_KEY: KEY } },
    );
    const secrets = [USER, PASSWORD, QUERY_KEY, KEY];
    const all = {
      'the run summary': run.stdout + run.stderr,
      'the store and its WAL': storeStrings(run.db),
      ...(await views(run.db, run.runId)),
    };
    for (const [where, text] of Object.entries(all))
      for (const s of secrets) expect(text.includes(s), `${where} holds ${s}`).toBe(false);
    // The snapshot still says where the run went, with the credentials marked.
    const show = JSON.parse((await runCli(['runs', 'show', run.runId, '--db', run.db, '--json'])).stdout) as {
      config: { targets: { base_url: string }[] };
    };
    expect(show.config.targets[0]?.base_url).toBe(
      `http://[redacted]@127.0.0.1:${new URL(origin).port}/v1?api-key=[redacted]`,
    );
    // Both cases reached the server (one answer echoing the URL, one error echoing it), redacted.
    const sql = new Database(run.db, { readonly: true });
    const rows = sql.prepare<[], { status: string }>('SELECT status FROM cases ORDER BY goal').all();
    sql.close();
    expect(rows.map((r) => r.status)).toEqual(['ok', 'error']);
    // A stored config that lost its credentials cannot be resumed as is: the config file can.
    const resumed = await runCli(['run', '--resume', run.runId, '--db', run.db], { env: { SWEEP_KEY: KEY } });
    expect(resumed.code).toBe(2);
    expect(resumed.stderr).toContain('credentials in a URL');
    for (const s of secrets) expect(resumed.stderr).not.toContain(s);
    expect(existsSync(run.db)).toBe(true);
  });

  it('data pull from a mirror with credentials never prints them (JSON report or errors)', async () => {
    const mirror = `http://${USER}:${PASSWORD}@127.0.0.1:9/?token=${QUERY_KEY}`;
    for (const json of [true, false]) {
      const res = await runCli(
        [
          'data',
          'pull',
          'bon',
          '--dir',
          path.join(dir, 'pulled'),
          '--base-url',
          mirror,
          '--retries',
          '0',
        ].concat(json ? ['--json'] : []),
      );
      expect(res.code).toBe(1);
      expect(res.stdout + res.stderr).toContain('[redacted]');
      for (const s of [USER, PASSWORD, QUERY_KEY]) expect(res.stdout + res.stderr).not.toContain(s);
    }
  });

  it('a missing key for a URL with credentials names the URL without them', async () => {
    const cfg = writeFile(
      dir,
      'nokey.yaml',
      `dataset: {path: url.jsonl}\nattacks: [plain]\ntargets:\n  - id: openai:echo\n` +
        `    base_url: "https://${USER}:${PASSWORD}@api.example.com/v1?token=${QUERY_KEY}"\njudges: [keyword]\n`,
    );
    const res = await runCli(['run', cfg, '--db', path.join(dir, 'nokey.db')], {
      env: { OPENAI_API_KEY: '' },
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('OPENAI_API_KEY');
    for (const s of [USER, PASSWORD, QUERY_KEY]) expect(res.stderr).not.toContain(s);
  });
});
