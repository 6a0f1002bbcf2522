import { existsSync } from 'node:fs';
import { InputError } from '../errors.js';
import { DEFAULT_DB, RunStore } from './store.js';

/**
 * A stored run's answered cases, goal → response (one target; the default store when `file` is absent), for judges that compare against another
 * run's answers (alpaca-pairwise `reference_run`). The host hands this to judges (JudgeEnv.runAnswers), so
 * no judge opens a store itself.
 */
export function runAnswers(
  file: string | undefined,
  runId: string,
  target: string | undefined,
  field: string,
): Map<string, string> {
  const db = file ?? DEFAULT_DB;
  if (!existsSync(db)) throw new InputError('reference run store not found', { file: db, field });
  const store = RunStore.openReadOnly(db);
  try {
    const run = store.findRun(runId);
    if (!run) throw new InputError(`no run '${runId}' in ${db}`, { field });
    const out = new Map<string, string>();
    const targets = new Set<string>();
    for (const c of store.iterateCases(run.id)) {
      if (c.status !== 'ok' || c.response === null) continue;
      if (target !== undefined && c.target !== target) continue;
      targets.add(c.target);
      out.set(c.goal, c.response);
    }
    if (targets.size > 1) {
      throw new InputError(
        `run ${run.id} has several targets (${[...targets].join(', ')}); set reference_target`,
        { field },
      );
    }
    return out;
  } finally {
    store.close();
  }
}
