import { InputError } from '../errors.js';
import { buildPlan, runIdFor } from '../runner/plan.js';
import { executeStoredRun } from '../runner/session.js';
import type { RunStore } from '../store/store.js';
import type { RunConfig } from '../config/schema.js';
import { expandSuite, type LoadedSuite } from './config.js';

/**
 * Runs a suite's runs one after another in one store. Each is an ordinary run with a deterministic id, so
 * running the suite again resumes where it stopped and finished runs cost nothing (their cases are stored).
 */
export interface SuiteRunResult {
  name: string;
  run_id: string;
  status: 'complete' | 'incomplete' | 'failed' | 'interrupted' | 'pending' | 'planned';
  cases_total: number;
  cases_done: number;
  errors: number;
}

export interface SuiteRunOptions {
  store: RunStore;
  dataDir: string;
  only?: readonly string[];
  dryRun?: boolean;
  useCache: boolean;
  progress: boolean;
  signal: AbortSignal;
  /** Called before each run starts (for a status line). */
  onRunStart?: (name: string, runId: string, cases: number) => void;
}

export async function runSuite(loaded: LoadedSuite, opts: SuiteRunOptions): Promise<SuiteRunResult[]> {
  const results: SuiteRunResult[] = [];
  for (const { name, config } of expandSuite(loaded.suite, opts.only)) {
    if (opts.signal.aborted) break;
    results.push(await runOne(name, config, loaded, opts));
  }
  return results;
}

async function runOne(
  name: string,
  config: RunConfig,
  loaded: LoadedSuite,
  opts: SuiteRunOptions,
): Promise<SuiteRunResult> {
  let plan;
  try {
    plan = await buildPlan(config, {
      dataDir: opts.dataDir,
      baseDir: loaded.baseDir,
      env: process.env,
      dryRun: opts.dryRun === true,
    });
  } catch (err) {
    // Name the suite run: a bare `attacks[0]` does not say which of the suite's runs is wrong.
    if (err instanceof InputError) throw new InputError(`${loaded.file}: runs '${name}': ${err.message}`);
    throw err;
  }
  try {
    const runId = runIdFor(config, plan.datasetSha256);
    if (opts.dryRun) {
      return {
        name,
        run_id: runId,
        status: 'planned',
        cases_total: plan.casesTotal,
        cases_done: 0,
        errors: 0,
      };
    }
    const { store } = opts;
    opts.onRunStart?.(name, runId, plan.casesTotal);
    const { status } = await executeStoredRun({
      store,
      runId,
      config,
      plan,
      name: config.name ?? name,
      configFile: loaded.file,
      useCache: opts.useCache,
      progress: opts.progress,
      signal: opts.signal,
    });
    const counts = store.counts(runId);
    return {
      name,
      run_id: runId,
      status,
      cases_total: plan.casesTotal,
      cases_done: counts.ok,
      errors: counts.errors,
    };
  } finally {
    await plan.close();
  }
}
