import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { writeSyntheticRun } from './synthetic-run.js';
import { judgeKind, runJudges, runRecord } from '../../src/store/records.js';

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

  test('judge kinds and options by id from a stored config snapshot: runs, suites and imports', () => {
    const judges = runJudges({
      models: { m: { id: 'gpt-4o', base_url: 'http://127.0.0.1:1/v1' } },
      judges: ['keyword', { qi2023: { id: 'q-strict', model: 'm' } }],
      runs: [{ judges: [{ keyword: { id: 'kw2' } }] }],
      import: { judges: ['harmbench'] },
    });
    expect(
      ['keyword', 'q-strict', 'kw2', 'harmbench', 'other'].map((id) => judgeKind({ judges }, id)),
    ).toEqual(['keyword', 'qi2023', 'keyword', 'harmbench', 'other']);
    expect(judges.get('q-strict')).toEqual({
      kind: 'qi2023',
      options: { id: 'q-strict', model: 'm' },
      model: { id: 'gpt-4o', base_url: 'http://127.0.0.1:1/v1' },
    });
    const unreadable = runRecord({
      id: 'r',
      name: null,
      created_at: '',
      updated_at: '',
      status: 'complete',
      config_json: 'not json',
      config_hash: '',
      config_file: null,
      versions_json: '{}',
      cases_total: 0,
    });
    expect(unreadable.config).toEqual({});
    expect(judgeKind(unreadable, 'keyword')).toBe('keyword');
  });
});
