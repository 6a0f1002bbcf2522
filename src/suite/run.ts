import { InputError } from '../errors.js';
import { buildPlan, runIdFor } from '../runner/plan.js';
import { executePlan } from '../runner/runner.js';
import { progressBar } from '../runner/progress.js';
import { runVersions } from '../runner/versions.js';
import type { RunStore } from '../store/store.js';
import { canonicalJson, sha256 } from '../util/hash.js';
import type { RunConfig } from '../config/schema.js';
import { expandSuite, type LoadedSuite } from './config.js';

/**
 * Runs a suite's runs one after another in one store. Each is an ordinary run with a deterministic id, so
 * running the suite again resumes where it stopped and finished runs cost nothing (their cases are stored).
 */
export interface SuiteRunResult {
  name: string;
  run_id: string;
  status: 'complete' | 'interrupted' | 'planned';
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
    plan = buildPlan(config, { dataDir: opts.dataDir, baseDir: loaded.baseDir, env: process.env });
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
    if (!store.getRun(runId)) {
      store.createRun({
        id: runId,
        name: config.name ?? name,
        status: 'running',
        config_json: JSON.stringify(config),
        config_hash: sha256(canonicalJson(config)),
        config_file: loaded.file,
        versions_json: JSON.stringify(runVersions(plan.datasetSha256)),
        cases_total: plan.casesTotal,
      });
    } else store.updateRun(runId, { status: 'running', cases_total: plan.casesTotal });
    opts.onRunStart?.(name, runId, plan.casesTotal);
    const bar = progressBar(opts.progress, plan.casesTotal);
    let outcome;
    try {
      outcome = await executePlan(plan, {
        store,
        runId,
        useCache: opts.useCache,
        signal: opts.signal,
        onProgress: (p) => bar.update(p),
      });
    } catch (err) {
      store.updateRun(runId, { status: 'failed' });
      throw err;
    } finally {
      bar.stop();
    }
    const status = outcome.interrupted ? 'interrupted' : 'complete';
    store.updateRun(runId, { status });
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
