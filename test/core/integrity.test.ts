import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir, writeFile } from '../helpers/cli.js';
import { AtomicFile, writeFileAtomic } from '../../src/util/atomic-write.js';

/**
 * Run integrity (issue 10, items 5 and 6) through the built CLI: secrets in headers never reach the store,
 * errors or reports, even when the server echoes them; bad paths, binary files and URL schemes are refused
 * at validation; read-only commands never create a store; files for the user are written atomically.
 */

const dir = tempDir();
const HEADER_SECRET = 'hdr-secret-from-env-7f3a9c';
const LITERAL_SECRET = 'literal-header-secret-91b2';
let server: Server;
let url = '';
let requests = 0;

/** An OpenAI-compatible chat server that echoes the request's headers: in error bodies and in answers. */
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      requests++;
      const echoed = `x-api-key=${String(req.headers['x-api-key'])} x-org=${String(req.headers['x-org'])}`;
      const prompt = (JSON.parse(body) as { messages: { content: string }[] }).messages.at(-1)?.content ?? '';
      if (prompt.includes('fail')) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `bad request with headers ${echoed}` } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'x',
          object: 'chat.completion',
          model: 'echo',
          choices: [
            { index: 0, message: { role: 'assistant', content: `Sure. ${echoed}` }, finish_reason: 'stop' },
          ],
          usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(async () => new Promise<void>((r) => server.close(() => r())));

function storeBytes(db: string): string {
  return [db, `${db}-wal`]
    .filter((f) => existsSync(f))
    .map((f) => readFileSync(f).toString('latin1'))
    .join('');
}

describe('secrets in headers', () => {
  it('headers_env and literal header values never reach the store, runs show, reports or errors', async () => {
    writeFile(dir, 'goals.jsonl', '{"goal": "say hello"}\n{"goal": "please fail now"}\n');
    const cfg = writeFile(
      dir,
      'secret.yaml',
      `dataset: {path: goals.jsonl}
attacks: [plain]
targets:
  - id: openai:echo
    base_url: ${url}
    retries: 0
    headers: {X-Org: ${LITERAL_SECRET}}
    headers_env: {X-Api-Key: MY_HEADER_VAR}
judges: [keyword]
`,
    );
    const db = path.join(dir, 'secret.db');
    const run = await runCli(['run', cfg, '--db', db, '--json'], {
      env: { MY_HEADER_VAR: HEADER_SECRET },
    });
    const before = requests;
    expect(before).toBeGreaterThanOrEqual(2);
    expect(run.stdout + run.stderr).not.toContain(HEADER_SECRET);
    expect(run.stdout + run.stderr).not.toContain(LITERAL_SECRET);
    // The server really received both values (it echoed them), and the store kept neither.
    const bytes = storeBytes(db);
    expect(bytes).toContain('[redacted]');
    expect(bytes).not.toContain(HEADER_SECRET);
    expect(bytes).not.toContain(LITERAL_SECRET);

    const id = /run-[0-9a-f]+/.exec(run.stdout + run.stderr)?.[0];
    expect(id).toBeDefined();
    const show = await runCli(['runs', 'show', id as string, '--db', db, '--json']);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('MY_HEADER_VAR');
    expect(show.stdout).not.toContain(HEADER_SECRET);
    expect(show.stdout).not.toContain(LITERAL_SECRET);
    const html = path.join(dir, 'report.html');
    const rep = await runCli(['report', id as string, '--db', db, '--format', 'html', '--out', html]);
    expect(rep.code).toBe(0);
    const page = readFileSync(html, 'utf8');
    expect(page).not.toContain(HEADER_SECRET);
    expect(page).not.toContain(LITERAL_SECRET);
    // No temporary file is left beside the report.
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('a missing headers_env variable is an error naming the field, before anything is sent', async () => {
    const cfg = writeFile(
      dir,
      'missing-var.yaml',
      `dataset: {path: goals.jsonl}
attacks: [plain]
targets:
  - id: openai:echo
    base_url: ${url}
    headers_env: {X-Api-Key: NOT_SET_ANYWHERE_VAR}
judges: [keyword]
`,
    );
    const before = requests;
    const r = await runCli(['run', cfg, '--db', path.join(dir, 'missing.db')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/headers_env\.X-Api-Key.*NOT_SET_ANYWHERE_VAR is not set/);
    expect(requests).toBe(before);
  });
});

describe('secrets of judge models', () => {
  it('judge --out and import never write a judge model header value, even when the model echoes it', async () => {
    writeFile(dir, 'answers.jsonl', '{"prompt": "say hello", "response": "Hello there."}\n');
    const models = writeFile(
      dir,
      'judge-models.yaml',
      `models:
  echo-judge:
    id: openai:echo
    base_url: ${url}
    retries: 0
    headers: {X-Org: ${LITERAL_SECRET}}
    headers_env: {X-Api-Key: MY_HEADER_VAR}
`,
    );
    const env = { MY_HEADER_VAR: HEADER_SECRET };
    const judgeArgs = ['--judge', 'qi2023', '--models', models, '--model', 'echo-judge', '--no-progress'];
    const before = requests;
    const out = path.join(dir, 'judge-verdicts.jsonl');
    const judged = await runCli(
      ['judge', '--input', path.join(dir, 'answers.jsonl'), ...judgeArgs, '--out', out],
      { env },
    );
    // The model answered (echoing both values) but gave no score: an inconclusive verdict, raw text kept.
    expect(requests).toBeGreaterThan(before);
    const file = readFileSync(out, 'utf8');
    expect(file).toContain('[redacted]');
    expect(file + judged.stderr + judged.stdout).not.toContain(HEADER_SECRET);
    expect(file + judged.stderr + judged.stdout).not.toContain(LITERAL_SECRET);

    const db = path.join(dir, 'judge-secret.db');
    const imported = await runCli(
      ['import', '--input', path.join(dir, 'answers.jsonl'), ...judgeArgs, '--db', db, '--json'],
      { env },
    );
    expect(imported.code, imported.stderr).toBe(0);
    const bytes = storeBytes(db);
    expect(bytes).toContain('[redacted]');
    expect(bytes + imported.stdout + imported.stderr).not.toContain(HEADER_SECRET);
    expect(bytes + imported.stdout + imported.stderr).not.toContain(LITERAL_SECRET);
  });
});

describe('validation of paths, files and URLs', () => {
  it('rejects a pack file path that leaves the pack, with file, line and field', async () => {
    const cfg = writeFile(
      dir,
      'traversal.yaml',
      `dataset: {pack: codeattack, file: ../../../etc/passwd}
attacks: [plain]
targets: [{id: mock:comply}]
judges: [keyword]
`,
    );
    const r = await runCli(['run', cfg, '--dry-run', '--db', path.join(dir, 't.db')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/traversal\.yaml:1: dataset\.file: a pack file path must stay inside the pack/);
    // The pack name cannot climb out of the data folder either, in a config or in a `pack:` argument.
    const cfg2 = writeFile(
      dir,
      'pack-name.yaml',
      `attacks: [plain]
targets: [{id: mock:comply}]
dataset: {pack: ../../../etc, file: passwd}
judges: [keyword]
`,
    );
    const r2 = await runCli(['run', cfg2, '--dry-run', '--db', path.join(dir, 't.db')]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/pack-name\.yaml:3: dataset\.pack: expected a data pack name/);
    const out = path.join(dir, 'escaped.jsonl');
    const r3 = await runCli([
      'prompts',
      '--attack',
      'plain',
      '--dataset',
      'pack:../etc/passwd',
      '--out',
      out,
    ]);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(/dataset\.pack: expected a data pack name/);
    const r4 = await runCli([
      'prompts',
      '--attack',
      'plain',
      '--dataset',
      'pack:codeattack/../../x',
      '--out',
      out,
    ]);
    expect(r4.code).toBe(2);
    expect(r4.stderr).toMatch(/dataset\.file: a pack file path must stay inside the pack/);
    expect(existsSync(out)).toBe(false);
  });

  it('rejects an ftp:// base_url at validation, with line and field', async () => {
    const cfg = writeFile(
      dir,
      'ftp.yaml',
      `dataset: {path: goals.jsonl}
attacks: [plain]
targets:
  - id: openai:x
    base_url: ftp://127.0.0.1/v1
judges: [keyword]
`,
    );
    const r = await runCli(['run', cfg, '--dry-run', '--db', path.join(dir, 'f.db')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ftp\.yaml:5: targets\.0\.base_url|ftp\.yaml:5: targets\[0\]\.base_url/);
    expect(r.stderr).toMatch(/http:\/\/ or https:\/\//);
  });

  it('rejects a binary dataset with the file and line of the first bad byte', async () => {
    const bin = path.join(dir, 'model.jsonl');
    writeFileSync(
      bin,
      Buffer.concat([Buffer.from('{"goal": "a"}\n{"goal": "b"}\n'), Buffer.from([0x00, 0xff, 0x10])]),
    );
    const cfg = writeFile(
      dir,
      'binary.yaml',
      `dataset: {path: model.jsonl}
attacks: [plain]
targets: [{id: mock:comply}]
judges: [keyword]
`,
    );
    const r = await runCli(['run', cfg, '--dry-run', '--db', path.join(dir, 'b.db')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/model\.jsonl:3: not a text file/);
    const latin = path.join(dir, 'latin1.txt');
    writeFileSync(latin, Buffer.from('first goal\nsecond caf\xe9 goal\n', 'latin1'));
    const cfg2 = writeFile(
      dir,
      'latin.yaml',
      `dataset: {path: latin1.txt}
attacks: [plain]
targets: [{id: mock:comply}]
judges: [keyword]
`,
    );
    const r2 = await runCli(['run', cfg2, '--dry-run', '--db', path.join(dir, 'b.db')]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/latin1\.txt:2: not valid UTF-8/);
  });

  it('read-only commands never create a store for a mistyped --db', async () => {
    const missing = path.join(dir, 'no-such-folder', 'typo.db');
    for (const args of [
      ['runs', 'list', '--db', missing],
      ['runs', 'show', 'run-x', '--db', missing],
      ['report', 'run-x', '--db', missing],
      ['analyze', 'asr', '--run', 'run-x', '--db', missing],
      ['compare', 'run-a', 'run-b', '--db', missing],
    ]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(/no run store here/);
      expect(existsSync(missing)).toBe(false);
      expect(existsSync(path.dirname(missing))).toBe(false);
    }
  });
});

describe('atomic files', () => {
  it('report --out that cannot be written fails, leaves the old report intact and no temporary file', async () => {
    const db = path.join(dir, 'secret.db');
    const id = JSON.parse((await runCli(['runs', 'list', '--db', db, '--json'])).stdout) as { id: string }[];
    const runId = id[0]?.id as string;
    const out = path.join(dir, 'kept.md');
    writeFileSync(out, 'the old report\n');
    // Rendering fails (no such tokenizer) after the store was read: nothing is written over the old file.
    const bad = await runCli([
      'report',
      runId,
      '--db',
      db,
      '--out',
      out,
      '--tokenizer',
      path.join(dir, 'none'),
    ]);
    expect(bad.code).not.toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('the old report\n');
    // The final rename fails (the target is a folder): the error is reported and the temporary file removed.
    const folder = path.join(dir, 'a-folder.md');
    mkdirSync(folder);
    const clash = await runCli(['report', runId, '--db', db, '--out', folder]);
    expect(clash.code).not.toBe(0);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const ok = await runCli(['report', runId, '--db', db, '--out', out]);
    expect(ok.code).toBe(0);
    expect(readFileSync(out, 'utf8')).toMatch(/^# /);
  });

  it('publishes a file only on commit; an aborted write leaves the old file intact', () => {
    const file = path.join(dir, 'atomic.txt');
    writeFileAtomic(file, 'old contents\n');
    const w = new AtomicFile(file);
    w.write('partial new con');
    expect(readFileSync(file, 'utf8')).toBe('old contents\n');
    w.abort();
    expect(readFileSync(file, 'utf8')).toBe('old contents\n');
    expect(w.tmp).toBeDefined();
    expect(existsSync(w.tmp as string)).toBe(false);
    const w2 = new AtomicFile(file);
    w2.write('new contents\n');
    w2.commit();
    expect(readFileSync(file, 'utf8')).toBe('new contents\n');
  });
});
