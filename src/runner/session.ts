import type { RunConfig } from '../config/schema.js';
import { redactConfig } from '../util/secrets.js';
import { InputError } from '../errors.js';
import type { RunRecord, RunStore } from '../store/store.js';
import { canonicalJson, sha256 } from '../util/hash.js';
import { buildPlan, runIdFor, type PlanContext, type RunPlan } from './plan.js';
import { progressBar } from '../util/case-progress.js';
import { executePlan, type RunOutcome } from './runner.js';
import { runVersions } from './versions.js';
import { assertSameShard, shardInfo } from './shard.js';
import { withStoredRun, type StoredRun } from './stored-run.js';

/**
 * A run config from plan to final status, the one path `refusenik run`, `refusenik suite run` and the loop's
 * runs take: the config is planned, the plan fitted to this invocation and its run named, then (unless a
 * dry run) executed as a stored run: registered with its config snapshot and versions if the store does not
 * have it yet, run with a progress bar under the run's lease, and closed with how it ended.
 */
export interface ConfigRunOptions {
  store: RunStore;
  config: RunConfig;
  /** How to plan it; its `dryRun` stops before anything is stored, its `useCache` holds for the run. */
  context: PlanContext;
  name: string | null;
  configFile: string | null;
  progress: boolean;
  signal: AbortSignal;
  /**
   * Fits the plan to this invocation (a shard, batch waiting, a resumed run's checks) and names its run;
   * undefined: the config's own id (runIdFor).
   */
  prepare?: (plan: RunPlan) => string | undefined;
  /** What an error while planning becomes (a suite names which of its runs it is). */
  planError?: (err: unknown) => unknown;
  /** Wraps the execution (Ctrl-C handlers and timing, a status line). */
  around?: (
    execute: () => Promise<StoredRunResult>,
    plan: RunPlan,
    runId: string,
  ) => Promise<StoredRunResult>;
}

export interface ConfigRun {
  plan: RunPlan;
  runId: string;
  /** How the execution ended; absent for a dry run. */
  result?: StoredRunResult;
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

/** Runs `o.config` (see ConfigRunOptions); `then` reads the outcome while the plan is still open. */
export async function executeConfig<T>(
  o: ConfigRunOptions,
  then: (run: ConfigRun) => T | Promise<T>,
): Promise<T> {
  let plan: RunPlan;
  try {
    plan = await buildPlan(o.config, o.context);
  } catch (err) {
    throw o.planError ? o.planError(err) : err;
  }
  try {
    const runId = o.prepare?.(plan) ?? runIdFor(o.config, plan.datasetSha256);
    if (o.context.dryRun) return await then({ plan, runId });
    // Under the run's lease (stored-run.ts): a holder that stalled past the lease's expiry and was taken over
    // stops like an interrupted run.
    const execute = (): Promise<StoredRunResult> =>
      withStoredRun(o.store, runId, o.signal, (run) => executeLeasedRun(o, plan, run));
    const result = await (o.around ? o.around(execute, plan, runId) : execute());
    return await then({ plan, runId, result });
  } finally {
    await plan.close();
  }
}

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

/** The leased run registered (or resumed, on the same dataset and shard), executed and closed. */
async function executeLeasedRun(
  o: ConfigRunOptions,
  plan: RunPlan,
  run: StoredRun,
): Promise<StoredRunResult> {
  const { store, id: runId } = run;
  const existing = run.stored();
  if (existing) assertSameDataset(existing, plan);
  // A shard's store holds that shard only (runner/shard.ts).
  if (existing) assertSameShard(existing, plan, store.file);
  const shard = shardInfo(plan);
  if (!existing) {
    run.register({
      name: o.name,
      config: redactConfig(o.config),
      configHash: sha256(canonicalJson(o.config)),
      configFile: o.configFile,
      versions: { ...runVersions(plan.datasetSha256), ...(shard ? { shard } : {}) },
      casesTotal: plan.casesTotal,
    });
  } else run.resume(plan.casesTotal);

  const { result: outcome, status } = await run.execute(
    async () => {
      const bar = progressBar(o.progress, plan.casesTotal);
      try {
        return await executePlan(plan, {
          store,
          runId,
          useCache: o.context.useCache !== false,
          signal: run.signal,
          onProgress: (p) => bar.update(p),
        });
      } finally {
        bar.stop();
      }
    },
    (outcome) => statusOf(outcome, store.counts(runId).errors),
  );
  return { outcome, status };
}

/** How an execution ended, from its outcome and the run's errored cases (see StoredRunResult). */
function statusOf(outcome: RunOutcome, errors: number): StoredRunResult['status'] {
  if (outcome.interrupted) return 'interrupted';
  if (outcome.halted) return outcome.halted.kind === 'circuit' ? 'failed' : 'incomplete';
  if (outcome.deferred > 0) return 'pending';
  return errors > 0 ? 'incomplete' : 'complete';
}
