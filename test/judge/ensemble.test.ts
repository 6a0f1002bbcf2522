import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MockServer } from '../../src/target/mock-server.js';
import type { ScriptRequest } from '../../src/target/scripted.js';
import { createTarget } from '../../src/target/create.js';
import type { TargetSpec } from '../../src/config/schema.js';
import type { Target } from '../../src/target/target.js';
import type { JudgeEnv, JudgeInput } from '../../src/judge/judge.js';
import { createJudge } from '../../src/judge/registry.js';
import { combine, type MemberVote } from '../../src/judge/ensemble.js';
import { RunStore, type CaseRow } from '../../src/store/store.js';
import { asrRows } from '../../src/analysis/asr.js';
import { displayRows } from '../../src/report/tables.js';
import type { Verdict } from '../../src/types.js';

const DATA = path.resolve(process.env['REFUSENIK_DATA_DIR'] ?? '../shared/data');

const H: Verdict = { judge: 'a', harmful: true, refusal: false };
const S: Verdict = { judge: 'b', harmful: false, refusal: true };
const I: Verdict = { judge: 'c', harmful: null, refusal: null, inconclusive: true, reason: 'off-format' };
const F: Verdict = { judge: 'd', harmful: null, refusal: null, error: 'judge model failed: HTTP 500' };

function outcome(v: Verdict): 'harmful' | 'safe' | 'inconclusive' | 'failed' {
  return v.error ? 'failed' : v.inconclusive ? 'inconclusive' : v.harmful ? 'harmful' : 'safe';
}

describe('ensemble rules', () => {
  const cases: [string, Verdict[], 'all' | 'majority' | 'any', boolean, ReturnType<typeof outcome>][] = [
    ['unanimous harmful', [H, H, H], 'all', true, 'harmful'],
    ['all: one safe vote, no abstain', [H, H, S], 'all', false, 'safe'],
    ['all: one safe vote, abstain', [H, H, S], 'all', true, 'inconclusive'],
    ['all: a member inconclusive, abstain (quorum = every member)', [H, H, I], 'all', true, 'inconclusive'],
    ['all: a member inconclusive, no abstain', [H, H, I], 'all', false, 'harmful'],
    ['majority 2:1', [H, H, S], 'majority', true, 'harmful'],
    ['majority 1:2', [H, S, S], 'majority', true, 'safe'],
    ['majority tie, abstain', [H, S, I], 'majority', true, 'inconclusive'],
    ['majority tie, no abstain', [H, S], 'majority', false, 'safe'],
    ['majority: too many inconclusive', [H, I, I], 'majority', true, 'inconclusive'],
    ['any: one harmful, no abstain', [S, S, H], 'any', false, 'harmful'],
    ['any: split, abstain', [S, S, H], 'any', true, 'inconclusive'],
    ['any: unanimous safe, abstain', [S, S, S], 'any', true, 'safe'],
    ['a failed member fails the panel (re-asked on resume)', [H, H, F], 'majority', false, 'failed'],
    ['nobody decided', [I, I], 'any', false, 'inconclusive'],
  ];
  for (const [what, verdicts, rule, abstain, want] of cases) {
    test(`${what}: ${want}`, async () => {
      const v = combine('panel', verdicts, { rule, abstain });
      expect(outcome(v)).toBe(want);
      const members = v.details?.['members'] as MemberVote[];
      expect(members.map((m) => m.judge)).toEqual(verdicts.map((x) => x.judge));
      expect(members.map((m) => m.vote)).toEqual(verdicts.map(outcome));
      const yes = verdicts.filter((x) => outcome(x) === 'harmful').length;
      const no = verdicts.filter((x) => outcome(x) === 'safe').length;
      expect(v.details?.['disagreement']).toBe(yes > 0 && no > 0);
      if (want === 'harmful' || want === 'safe') expect(v.score).toBe(yes / (yes + no));
      else expect(v.harmful).toBeNull();
    });
  }
  test('an explicit quorum', async () => {
    expect(outcome(combine('p', [H, I, I], { rule: 'any', abstain: false, quorum: 2 }))).toBe('inconclusive');
    expect(outcome(combine('p', [H, S, I], { rule: 'majority', abstain: false, quorum: 1 }))).toBe('safe');
  });
});

describe('ensemble of real judges over a loopback judge model', () => {
  let server: MockServer;
  const opened: Target[] = [];
  /** qi2023 says 5, PAIR's judge off-format, derta-guideline "not unsafe". */
  const script = (req: ScriptRequest): string => {
    const text = (req.messages ?? []).map((m) => m.content).join('\n');
    if (/\[ASSISTANT'S RESPONSE\]/.test(text)) return 'I would say it is bad.';
    if (text.includes('"unsafe" or "not unsafe"')) return '{"reason": "no details", "verdict": "not unsafe"}';
    return '{"reason": "full steps", "score": 5}';
  };
  beforeAll(async () => {
    server = await new MockServer({ script }).start();
  });
  afterAll(async () => {
    await Promise.all(opened.map((t) => t.close?.()));
    await server.close();
  });
  const env = (): JudgeEnv => ({
    dataDir: DATA,
    model: () => {
      const t = createTarget(
        { id: 'openai:judge', base_url: server.url, retries: 0, timeout_s: 5 } as TargetSpec,
        { env: {}, baseDir: '.' },
        'models.judge',
      );
      opened.push(t);
      return t;
    },
  });
  const input: JudgeInput = {
    behavior: { id: 'b', text: 'make a thing', source: 't', index: 0 },
    goal: 'make a thing',
    prompt: { kind: 'chat', messages: [{ role: 'user', content: 'make a thing' }] },
    response: 'Sure, here is how: step 1, step 2.',
    answer: 'Sure, here is how: step 1, step 2.',
  };

  test('members are full judge specs; details carry each member; abstain on disagreement', async () => {
    const members = ['keyword', { qi2023: { model: 'judge' } }, { 'pair-judge': { model: 'judge' } }];
    const before = server.stats.requests;
    const strict = await createJudge(
      { ensemble: { judges: members, rule: 'all', abstain: true } },
      env(),
      'judges[0]',
    );
    const v = await strict.judge(input);
    expect(server.stats.requests - before).toBe(2);
    // keyword + qi2023 say harmful, pair-judge is inconclusive: rule all with abstain needs every member.
    expect(v).toMatchObject({ judge: 'ensemble', inconclusive: true, harmful: null });
    expect((v.details?.['members'] as MemberVote[]).map((m) => [m.judge, m.vote])).toEqual([
      ['keyword', 'harmful'],
      ['qi2023', 'harmful'],
      ['pair-judge', 'inconclusive'],
    ]);
    const majority = await createJudge(
      { ensemble: { id: 'panel', judges: members, rule: 'majority', abstain: true } },
      env(),
      'judges[0]',
    );
    expect(await majority.judge(input)).toMatchObject({ judge: 'panel', harmful: true, score: 1 });
    const split = await createJudge(
      {
        ensemble: {
          judges: ['keyword', { 'derta-guideline': { model: 'judge' } }],
          rule: 'majority',
          abstain: true,
        },
      },
      env(),
      'judges[0]',
    );
    const tie = await split.judge(input);
    expect(tie).toMatchObject({ inconclusive: true });
    expect(tie.reason).toMatch(/a tie: 1 harmful, 1 safe/);
    expect(tie.details?.['disagreement']).toBe(true);
  });

  test('bad options name the path', async () => {
    await expect(createJudge({ ensemble: { judges: ['keyword'] } }, env(), 'judges[1]')).rejects.toThrow(
      /judges\[1\]\.ensemble\.judges/,
    );
    await expect(
      createJudge({ ensemble: { judges: ['keyword', 'nope'] } }, env(), 'judges[1]'),
    ).rejects.toThrow(/judges\[1\]\.ensemble\.judges\[1\]: unknown judge 'nope'/);
    await expect(
      createJudge({ ensemble: { judges: ['keyword', 'keyword'], quorum: 3 } }, env(), 'judges[1]'),
    ).rejects.toThrow(/quorum 3 exceeds/);
  });
});

describe('coverage and disagreement next to ASR', () => {
  test('AsrRow.coverage = n / (n + inconclusive); disagreement counts panel splits', () => {
    const db = path.join(mkdtempSync(path.join(os.tmpdir(), 'refusenik-ensemble-')), 'r.db');
    const store = RunStore.open(db);
    try {
      store.createRun({
        id: 'r1',
        name: 'r1',
        status: 'complete',
        config: { judges: [{ ensemble: { judges: ['keyword', 'x'] } }] },
        config_hash: 'h',
        config_file: null,
        versions: {},
        cases_total: 4,
      });
      const panel: Verdict[][] = [
        [H, H],
        [H, S],
        [S, S],
        [H, I],
      ];
      panel.forEach((members, i) => {
        const row: CaseRow = {
          run_id: 'r1',
          case_id: `c${i}`,
          behavior_id: `b${i}`,
          goal: 'g',
          category: null,
          behavior_json: '{}',
          attack: 'plain',
          variant: 'plain',
          target: 't',
          sample: 0,
          status: 'ok',
          prompt_json: '{"kind":"chat","messages":[]}',
          response: 'r',
          answer: 'r',
          finish_reason: 'stop',
          latency_ms: 1,
          attempts: 1,
          cached: 0,
          prompt_tokens: 1,
          completion_tokens: 1,
          trace_json: null,
          error: null,
          error_kind: null,
          created_at: new Date().toISOString(),
          request_cost_usd: null,
        };
        store.putCase(row);
        store.putVerdict('r1', row.case_id, combine('ensemble', members, { rule: 'all', abstain: true }));
      });
      const [r] = asrRows(store, 'r1', ['ensemble']);
      // c0 harmful, c2 safe decided; c1 (split) and c3 (an inconclusive member) abstained.
      expect(r).toMatchObject({ n: 2, successes: 1, inconclusive: 2, coverage: 0.5, disagreement: 1 });
      const [head, body] = displayRows(asrRows(store, 'r1', ['ensemble']));
      expect(head).toEqual(expect.arrayContaining(['coverage', 'disagreement']));
      expect(body?.[head?.indexOf('coverage') ?? -1]).toBe('50.0%');
    } finally {
      store.close();
    }
  });
});
