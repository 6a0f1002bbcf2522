import { InputError } from '../errors.js';
import { executeConfig } from '../runner/session.js';
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
  const { store } = opts;
  return executeConfig(
    {
      store,
      config,
      context: {
        dataDir: opts.dataDir,
        baseDir: loaded.baseDir,
        env: process.env,
        dryRun: opts.dryRun === true,
        useCache: opts.useCache,
      },
      name: config.name ?? name,
      configFile: loaded.file,
      progress: opts.progress,
      signal: opts.signal,
      // Name the suite run: a bare `attacks[0]` does not say which of the suite's runs is wrong.
      planError: (err) =>
        err instanceof InputError ? new InputError(`${loaded.file}: runs '${name}': ${err.message}`) : err,
      around: (execute, plan, runId) => {
        opts.onRunStart?.(name, runId, plan.casesTotal);
        return execute();
      },
    },
    ({ plan, runId, result }) => {
      const counts = result ? store.counts(runId) : { ok: 0, errors: 0 };
      return {
        name,
        run_id: runId,
        status: result?.status ?? 'planned',
        cases_total: plan.casesTotal,
        cases_done: counts.ok,
        errors: counts.errors,
      };
    },
  );
}
