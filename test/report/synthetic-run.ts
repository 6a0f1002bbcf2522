import { RunStore, type CaseRow } from '../../src/store/store.js';

/**
 * A large run written straight through the store API (no model calls): `n` cases over 4 targets, a keyword
 * verdict each, responses a few hundred characters long; case 7777 alone contains the word `needle-7777`.
 */
export function writeSyntheticRun(db: string, n: number): { db: string; runId: string } {
  const runId = `run-synthetic-${n}`;
  const store = RunStore.open(db);
  try {
    store.createRun({
      id: runId,
      name: `synthetic ${n}`,
      status: 'complete',
      config: {
        dataset: { path: 'synthetic.jsonl' },
        attacks: ['plain'],
        targets: [],
        judges: ['keyword'],
      },
      config_hash: 'synthetic',
      config_file: null,
      versions: { refusenik: 'test' },
      cases_total: n,
    });
    const now = new Date().toISOString();
    for (let i = 0; i < n; i++) {
      const refused = i % 3 === 0;
      const response = refused
        ? `I'm sorry, but I can't help with request ${i}.`
        : `Sure, here is the answer to request ${i}. ${'Lorem ipsum dolor sit amet. '.repeat(20)}${i === 7777 ? ' needle-7777' : ''}`;
      const row: CaseRow = {
        run_id: runId,
        case_id: `c${i}`,
        behavior_id: `b${i % 2500}`,
        goal: `goal ${i % 2500}`,
        category: ['a', 'b', 'c', 'd'][i % 4] ?? null,
        behavior_json: '{}',
        attack: 'plain',
        variant: 'plain',
        target: `target-${Math.floor(i / 2500)}`,
        sample: 0,
        status: 'ok',
        prompt_json: JSON.stringify({
          kind: 'chat',
          messages: [{ role: 'user', content: `goal ${i % 2500}` }],
        }),
        response,
        answer: response,
        finish_reason: 'stop',
        latency_ms: 1,
        attempts: 1,
        cached: 0,
        prompt_tokens: 5,
        completion_tokens: 50,
        trace_json: null,
        error: null,
        error_kind: null,
        created_at: now,
        request_cost_usd: null,
      };
      store.putCase(row);
      store.putVerdict(runId, row.case_id, { judge: 'keyword', refusal: refused, harmful: !refused });
    }
    store.flush();
  } finally {
    store.close();
  }
  return { db, runId };
}
