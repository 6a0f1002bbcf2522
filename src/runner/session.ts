import type { RunConfig } from '../config/schema.js';
import { redactConfig } from '../util/secrets.js';
import { InputError } from '../errors.js';
import type { RunRecord, RunStore } from '../store/store.js';
import { canonicalJson, sha256 } from '../util/hash.js';
import type { RunPlan } from './plan.js';
import { progressBar } from '../util/case-progress.js';
import { executePlan, type RunOutcome } from './runner.js';
import { runVersions } from './versions.js';
import { assertSameShard, shardInfo } from './shard.js';

/**
 * One stored run from start (or resumption) to its final status: registers the run with its config snapshot
 * and versions if the store does not have it yet, executes the plan with a progress bar, and records how it
 * ended. `refusenik run` and `refusenik suite run` both go through here.
 */
export interface StoredRunOptions {
  store: RunStore;
  runId: string;
  config: RunConfig;
  plan: RunPlan;
  name: string | null;
  configFile: string | null;
  useCache: boolean;
  progress: boolean;
  signal: AbortSignal;
}

export interface StoredRunResult {
  outcome: RunOutcome;
  /**
   * complete: every case answered; incomplete: some cases errored, or `--max-cost` stopped it (resumable);
   * failed: an endpoint's circuit opened (resumable once it works); interrupted: Ctrl-C or a lost lease;
   * pending: some requests wait in provider batches (`run --no-wait`; the same command collects them).
   */
  status: 'complete' | 'incomplete' | 'failed' | 'interrupted' | 'pending';
}

// ---- one writer per run (issue 10 item 3): the run's lease is held while it runs; see store/lease.ts ----
export async function executeStoredRun(o: StoredRunOptions): Promise<StoredRunResult> {
  const lease = o.store.leases.acquire(o.runId);
  try {
    // A holder that stalled past the lease's expiry and was taken over stops like an interrupted run.
    return await executeLeasedRun({ ...o, signal: AbortSignal.any([o.signal, lease.signal]) });
  } finally {
    lease.release();
  }
}
// ---- end of lease ----

/**
 * A stored run continues only on the dataset it was made from: resuming on an edited file would add the
 * edited goals' cases beside the old ones (one run, two datasets, more cases than the plan). Throws an
 * error naming both sha256 and how to start a new run for the edited dataset.
 */
export function assertSameDataset(
  run: Pick<RunRecord, 'id' | 'versions' | 'config_file'>,
  plan: Pick<RunPlan, 'datasetFile' | 'datasetSha256'>,
): void {
  const stored = run.versions['dataset_sha256'];
  if (typeof stored !== 'string' || stored === plan.datasetSha256) return;
  const config = run.config_file ?? '<config>';
  throw new InputError(
    `run ${run.id} was made from a dataset with sha256 ${stored}; the dataset file now has sha256 ` +
      `${plan.datasetSha256}: resuming would mix two datasets in one run. Restore the original file to ` +
      `resume, or start a new run on the edited dataset: refusenik run ${config} (without --resume; an ` +
      'edited dataset gets its own run id)',
    { file: plan.datasetFile },
  );
}

async function executeLeasedRun(o: StoredRunOptions): Promise<StoredRunResult> {
  const { store, runId, plan } = o;
  const existing = store.getRun(runId);
  if (existing) assertSameDataset(existing, plan);
  // A shard's store holds that shard only (runner/shard.ts).
  if (existing) assertSameShard(existing, plan, store.file);
  const shard = shardInfo(plan);
  if (!existing) {
    store.createRun({
      id: runId,
      name: o.name,
      status: 'running',
      config: redactConfig(o.config),
      config_hash: sha256(canonicalJson(o.config)),
      config_file: o.configFile,
      versions: { ...runVersions(plan.datasetSha256), ...(shard ? { shard } : {}) },
      cases_total: plan.casesTotal,
    });
  } else store.updateRun(runId, { status: 'running', cases_total: plan.casesTotal });

  const bar = progressBar(o.progress, plan.casesTotal);
  let outcome: RunOutcome;
  try {
    outcome = await executePlan(plan, {
      store,
      runId,
      useCache: o.useCache,
      signal: o.signal,
      onProgress: (p) => bar.update(p),
    });
  } catch (err) {
    store.updateRun(runId, { status: 'failed' });
    throw err;
  } finally {
    bar.stop();
  }
  const errors = store.counts(runId).errors;
  const status: StoredRunResult['status'] = outcome.interrupted
    ? 'interrupted'
    : outcome.halted?.kind === 'circuit'
      ? 'failed'
      : outcome.halted
        ? 'incomplete'
        : outcome.deferred > 0
          ? 'pending'
          : errors > 0
            ? 'incomplete'
            : 'complete';
  store.updateRun(runId, { status });
  return { outcome, status };
}
