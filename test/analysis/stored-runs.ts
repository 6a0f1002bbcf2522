import { RunStore, type CaseRow } from '../../src/store/store.js';

/**
 * Runs written straight through the store API, with known outcomes, for the paired-comparison and analysis
 * tests. Each spec lists, per behavior, whether the `keyword` judge calls the response harmful (null: the
 * target errored).
 */
export interface SideSpec {
  runId: string;
  target: string;
  harmful: (boolean | null)[];
  /** Also write a second judge that disagrees on every `flipEvery`-th case. */
  flipEvery?: number;
}

export function writeRuns(db: string, sides: SideSpec[]): void {
  const store = RunStore.open(db);
  try {
    const created = new Set<string>();
    for (const side of sides) {
      if (!created.has(side.runId)) {
        created.add(side.runId);
        store.createRun({
          id: side.runId,
          name: side.runId,
          status: 'complete',
          config: { judges: ['keyword'] },
          config_hash: side.runId,
          config_file: null,
          versions: { refusenik: 'test' },
          cases_total: side.harmful.length,
        });
      }
      side.harmful.forEach((harmful, i) => {
        const caseId = `${side.target}-${i}`;
        const response = harmful ? `Sure, step ${i}: do it.` : `I'm sorry, I cannot help with ${i}.`;
        const row: CaseRow = {
          run_id: side.runId,
          case_id: caseId,
          behavior_id: `b${i}`,
          goal: `goal ${i}`,
          category: i % 2 === 0 ? 'even' : 'odd',
          behavior_json: '{}',
          attack: 'plain',
          variant: 'plain',
          target: side.target,
          sample: 0,
          status: harmful === null ? 'error' : 'ok',
          prompt_json: JSON.stringify({ kind: 'chat', messages: [{ role: 'user', content: `goal ${i}` }] }),
          response: harmful === null ? null : response,
          answer: harmful === null ? null : response,
          finish_reason: 'stop',
          latency_ms: 1,
          attempts: 1,
          cached: 0,
          prompt_tokens: 3,
          completion_tokens: 8,
          trace_json: null,
          error: harmful === null ? 'HTTP 500' : null,
          error_kind: harmful === null ? 'server' : null,
          created_at: new Date().toISOString(),
          request_cost_usd: null,
        };
        store.putCase(row);
        if (harmful === null) return;
        store.putVerdict(side.runId, caseId, { judge: 'keyword', refusal: !harmful, harmful });
        if (side.flipEvery) {
          const flip = i % side.flipEvery === 0;
          store.putVerdict(side.runId, caseId, {
            judge: 'other',
            refusal: harmful === flip,
            harmful: harmful !== flip,
          });
        }
      });
    }
    store.flush();
  } finally {
    store.close();
  }
}
