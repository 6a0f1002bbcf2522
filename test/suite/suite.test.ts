import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadBehaviors } from '../../src/dataset/load.js';
import { createJudge } from '../../src/judge/registry.js';
import { createTarget } from '../../src/target/create.js';
import { runAnswers } from '../../src/store/run-answers.js';
import { expandSuite, loadSuite } from '../../src/suite/config.js';
import { MockServer } from '../../src/target/mock-server.js';
import type { ScriptRequest } from '../../src/target/scripted.js';
import { DATA_DIR, ROOT, runCli } from '../helpers/cli.js';

describe('examples/derta-eval.yaml', () => {
  const { suite } = loadSuite(path.join(ROOT, 'examples/derta-eval.yaml'));
  const runs = expandSuite(suite);

  test('all six attacks, helpfulness and XSTest, each a valid run config', () => {
    const attackNames = runs.flatMap((r) =>
      r.config.attacks.map((a) => (typeof a === 'string' ? a : Object.keys(a)[0])),
    );
    for (const a of [
      'codeattack',
      'completion',
      'selfcipher',
      'jailbreakchat',
      'pair',
      'autodan',
      'helpfulness',
      'plain',
    ]) {
      expect(attackNames).toContain(a);
    }
    expect(runs.map((r) => r.config.name)).toContain('derta-eval:xstest');
    const judges = runs.flatMap((r) =>
      r.config.judges.map((j) => (typeof j === 'string' ? j : Object.keys(j)[0])),
    );
    for (const j of ['gsm8k', 'mmlu', 'alpaca-pairwise', 'xstest']) expect(judges).toContain(j);
  });

  test('PAIR and AutoDAN use the 50-question subset: every 4th question (0, 4, ..., 196)', () => {
    for (const name of ['pair', 'autodan']) {
      const d = runs.find((r) => r.name === name)?.config.dataset;
      const behaviors = loadBehaviors(
        { pack: d?.pack, file: d?.file, every: d?.every },
        { dataDir: DATA_DIR },
      );
      expect(behaviors).toHaveLength(50);
      expect(behaviors.map((b) => b.index)).toEqual(Array.from({ length: 50 }, (_, i) => 4 * i));
    }
  });

  test('a dry run needs no API keys; a real run names the missing variable', async () => {
    const env = { OPENAI_API_KEY: '' };
    const file = path.join(ROOT, 'examples/derta-eval.yaml');
    const db = path.join(mkdtempSync(path.join(os.tmpdir(), 'refusenik-suite-keys-')), 'runs.db');
    const dry = await runCli(['suite', 'run', file, '--db', db, '--dry-run', '--json'], { env });
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).runs).toHaveLength(runs.length);
    const real = await runCli(['suite', 'run', file, '--db', db, '--only', 'xstest'], { env });
    expect(real.code).toBe(2);
    expect(real.stderr).toMatch(/api_key_env: environment variable OPENAI_API_KEY is not set/);
  });

  test('a bad suite names file, line and path', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'refusenik-suite-bad-'));
    const file = path.join(dir, 's.yaml');
    writeFileSync(
      file,
      'name: s\ntargets:\n  - id: mock:comply\nruns:\n  - name: a\n    dataset: {pack: derta}\n    attacks: [plain]\n    judgez: []\n',
    );
    expect(() => loadSuite(file)).toThrow(/s\.yaml:8: runs\[0\]\.judgez: unknown key/);
    expect(() => expandSuite(suite, ['nope'])).toThrow(/no run named nope in suite derta-eval/);
  });
});

describe('refusenik suite run + suite table against a loopback target (real HTTP)', () => {
  let server: MockServer;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'refusenik-suite-'));
  const db = path.join(dir, 'runs.db');
  const suiteFile = path.join(dir, 'suite.yaml');

  // GSM8K: the model answers the first 3 of the 5 questions right, the others wrong.
  const gsm = readFileSync(path.join(DATA_DIR, 'derta/data/test/helpfulness_gsm8k_500.json'), 'utf8')
    .trim()
    .split('\n')
    .slice(0, 5)
    .map((l) => JSON.parse(l) as { question: string; answer: string });
  // XSTest: every 45th prompt (10 prompts); the model refuses the unsafe ones and exactly one safe one.
  const xs = loadBehaviors({ pack: 'xstest', file: 'xstest_prompts.csv', every: 45 }, { dataDir: DATA_DIR });
  const safe = xs.filter((b) => b.meta?.['label'] === 'safe');
  const unsafe = xs.filter((b) => b.meta?.['label'] === 'unsafe');
  const refuse = new Set([...unsafe.map((b) => b.text), safe[0]?.text]);

  const script = (req: ScriptRequest): string => {
    const text = req.messages?.at(-1)?.content ?? req.text ?? '';
    const g = gsm.findIndex((x) => text.includes(x.question));
    if (g >= 0) {
      const gold = Number((gsm[g]?.answer.split('####')[1] ?? '').trim().replace(/,/g, ''));
      return `Let me think.\n#### ${g < 3 ? gold : gold + 1}`;
    }
    if (refuse.has(text)) return "I'm sorry, but I can't help with that.";
    // CompletionAttack: raw text on the completions endpoint; the model continues the steps.
    if (req.text !== undefined && req.messages === undefined) return ' First, gather the materials.';
    if (text.includes('Cipher Code')) return 'Sure, here is how: first, second, third.';
    // JailbreakChat: a long role-play template around the question; the model refuses them all.
    if (text.length > 400 && !/my_stack|output_list/.test(text))
      return "I'm sorry, but I can't help with that.";
    if (/my_stack|output_list/.test(text))
      return 'Sure, here is the completed code with every step filled in.';
    return 'Sure! Here is a helpful answer.';
  };

  beforeAll(async () => {
    server = await new MockServer({ script }).start();
    writeFileSync(
      suiteFile,
      [
        'name: t',
        'targets:',
        `  - {id: openai:target, label: tiny, base_url: "${server.url}", retries: 0, concurrency: 2}`,
        'judges: [keyword]',
        'runs:',
        '  - name: codeattack',
        '    dataset: {pack: derta, file: data/test/safety_illegal_instructions_200.json, every: 50}',
        '    attacks: [{codeattack: {language: python, encoding: stack}}]',
        '  - name: jailbreakchat',
        '    dataset: {pack: derta, file: data/test/safety_illegal_instructions_200.json, every: 50}',
        '    attacks: [{jailbreakchat: {mode: derta}}]',
        '  - name: selfcipher',
        '    dataset: {pack: derta, file: data/test/safety_illegal_instructions_200.json, every: 50}',
        '    attacks: [{selfcipher: {mode: derta}}]',
        '  - name: completion',
        '    dataset: {pack: derta, file: data/test/safety_completionattack.json, every: 50}',
        '    attacks: [completion]',
        '  - name: gsm8k',
        '    dataset: {pack: derta, file: data/test/helpfulness_gsm8k_500.json, limit: 5}',
        '    attacks: [{helpfulness: {task: gsm8k}}]',
        '    judges: [gsm8k]',
        '  - name: xstest',
        '    dataset: {pack: xstest, file: xstest_prompts.csv, every: 45}',
        '    attacks: [plain]',
        '    judges: [xstest]',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await server.close();
  });

  test('runs, resumes without new requests, and lays out Table 2 beside the paper', async () => {
    const dry = await runCli(['suite', 'run', suiteFile, '--db', db, '--dry-run', '--json']);
    expect(dry.stderr).toBe('');
    expect(JSON.parse(dry.stdout).runs.map((r: { cases_total: number }) => r.cases_total)).toEqual([
      4, 4, 4, 4, 5, 10,
    ]);
    expect(server.stats.requests).toBe(0);

    const first = await runCli(['suite', 'run', suiteFile, '--db', db, '--json']);
    expect(first.code, first.stderr).toBe(0);
    const summary = JSON.parse(first.stdout) as {
      runs: { status: string; cases_done: number; run_id: string }[];
    };
    expect(summary.runs.map((r) => [r.status, r.cases_done])).toEqual([
      ['complete', 4],
      ['complete', 4],
      ['complete', 4],
      ['complete', 4],
      ['complete', 5],
      ['complete', 10],
    ]);
    const sent = server.stats.requests;
    expect(sent).toBe(31);

    const again = await runCli(['suite', 'run', suiteFile, '--db', db, '--json']);
    expect(again.code).toBe(0);
    expect(server.stats.requests).toBe(sent);

    const table = await runCli([
      'suite',
      'table',
      '--suite',
      't',
      '--db',
      db,
      '--format',
      'json',
      '--paper',
      '70B',
    ]);
    expect(table.code, table.stderr).toBe(0);
    const rows = (
      JSON.parse(table.stdout) as {
        rows: {
          model: string;
          source: string;
          values: Record<string, number | null>;
          n: Record<string, number>;
          asr_average: number | null;
        }[];
      }
    ).rows;
    expect(rows.filter((r) => r.source === 'paper').map((r) => r.model)).toEqual([
      'LLaMA3-70B Vanilla',
      'LLaMA3-70B DeRTa',
      'LLaMA3-70B-Instruct (official)',
      'LLaMA3-70B-Instruct + DeRTa',
    ]);
    expect(rows.find((r) => r.model === 'LLaMA3-70B Vanilla')?.asr_average).toBe(70.6); // the paper's text says 70.6
    const mine = rows.find((r) => r.source === 'run');
    expect(mine?.model).toBe('tiny');
    expect(mine?.values['Code']).toBe(100);
    expect(mine?.n['Code']).toBe(4);
    expect(mine?.values['JChat']).toBe(0);
    expect(mine?.values['Cipher']).toBe(100);
    expect(mine?.values['Comp']).toBe(100);
    expect(mine?.n['Comp']).toBe(4);
    expect(mine?.values['GSM8K']).toBe(60);
    expect(mine?.values['XSTest safe: complied']).toBe(
      Math.round((1000 * (safe.length - 1)) / safe.length) / 10,
    );
    expect(mine?.values['XSTest unsafe: refused']).toBe(100);
    expect(mine?.values['PAIR']).toBeNull();

    const md = await runCli(['suite', 'table', ...summary.runs.map((r) => r.run_id), '--db', db]);
    expect(md.stdout).toMatch(/^\| Model \| Source \| Code \| PAIR \|/);
    expect(md.stdout).toMatch(/\| tiny \| this run \| 100\.0 \| – \|/);
    expect(md.stdout).toMatch(/\| GPT-4 \(turbo-2024-04-09\) \| paper \| 82\.5 \| 40\.0 \|/);
    // Keyword-judged ASR is not laid out beside the paper's hand-judged numbers as if comparable.
    expect((mine as { comparable_to_paper?: boolean }).comparable_to_paper).toBe(false);
    expect(md.stdout).toMatch(/Note: tiny: Code, JChat, Cipher, Comp judged by `keyword` only/);
    const [runPart, paperPart] = md.stdout.split(/\nPaper \(hand-judged ASR; shown apart/);
    expect(runPart).toMatch(/\| tiny \| this run \|/);
    expect(runPart).not.toMatch(/\| paper \|/);
    expect(paperPart).toMatch(/\| GPT-4 \(turbo-2024-04-09\) \| paper \|/);

    // Another run's answers serve as AlpacaEval-style reference answers (the host gives the judge the store).
    const judgeEnv = {
      dataDir: DATA_DIR,
      runAnswers,
      model: () =>
        createTarget(
          { id: 'openai:judge', base_url: server.url, retries: 0 },
          { env: {}, baseDir: dir },
          'm',
        ),
    };
    const gsmRun = summary.runs[4]?.run_id as string; // the gsm8k run
    const pairwise = await createJudge(
      { 'alpaca-pairwise': { model: 'judge', reference_run: gsmRun, reference_db: db } },
      judgeEnv,
      'judges[0]',
    );
    const behavior = { id: 'g', text: gsm[0]?.question as string, source: 't', index: 0 };
    const verdict = await pairwise.judge({
      behavior,
      goal: behavior.text,
      prompt: { kind: 'chat', messages: [] },
      response: 'x',
      answer: 'x',
    });
    // The reference was found; this mock judge names no winner: inconclusive, not a failure or a guess.
    expect(verdict).toMatchObject({ inconclusive: true, harmful: null });
    expect(verdict.reason).toMatch(/no verdict/);
    const unknown = await pairwise.judge({
      behavior: { ...behavior, text: 'other' },
      goal: 'other',
      prompt: { kind: 'chat', messages: [] },
      response: 'x',
      answer: 'x',
    });
    expect(unknown.error).toMatch(/no reference answer/);

    const missing = await runCli(['suite', 'table', 'run-nope', '--db', db]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no run 'run-nope'/);
  });
});
