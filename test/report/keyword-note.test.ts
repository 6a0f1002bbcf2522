import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { writeSyntheticRun } from './synthetic-run.js';
import { judgeKinds } from '../../src/judge/kinds.js';

/** Where only `keyword` judged, the reports say its ASR is not comparable with hand-judged numbers. */
describe('keyword-judged reports', () => {
  test('Markdown and HTML carry the not-comparable note and coverage; the judge kind comes from the stored config', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'refusenik-kwnote-'));
    const { db, runId } = writeSyntheticRun(path.join(dir, 'r.db'), 12);
    const md = await runCli(['report', runId, '--db', db, '--format', 'md']);
    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout).toMatch(
      /- judged by `keyword`: keyword\. `keyword` \(refusal phrases\) cannot tell harmful content/,
    );
    expect(md.stdout).toMatch(/\| inconclusive \| coverage \| errors \|/);
    const html = path.join(dir, 'r.html');
    expect((await runCli(['report', runId, '--db', db, '--format', 'html', '--out', html])).code).toBe(0);
    expect(readFileSync(html, 'utf8')).toContain('"keyword_judges":["keyword"]');
  });

  test('judge kinds by id from a stored config snapshot, suites included', () => {
    const kind = judgeKinds(
      JSON.stringify({
        judges: ['keyword', { qi2023: { id: 'q-strict', model: 'm' } }],
        runs: [{ judges: [{ keyword: { id: 'kw2' } }] }],
      }),
    );
    expect(['keyword', 'q-strict', 'kw2', 'other'].map(kind)).toEqual([
      'keyword',
      'qi2023',
      'keyword',
      'other',
    ]);
    expect(judgeKinds('not json')('keyword')).toBe('keyword');
  });
});
