import { z } from 'zod';
import { loadYamlFile } from '../config/load.js';
import { DatasetConfig, NamedEntry, RunConfig, TargetSpec } from '../config/schema.js';
import { parseWith } from '../config/validate.js';
import { InputError } from '../errors.js';

/**
 * A suite is several runs that share targets, auxiliary models and default judges, one per dataset: a run
 * has exactly one dataset, and DeRTa's Table 2 needs six (the 200 harmful questions, the 50-question
 * subset for PAIR/AutoDAN, the CompletionAttack prefixes, GSM8K, MMLU, AlpacaEval) plus XSTest.
 * `expandSuite` turns it into ordinary run configs, so every run is resumable and reportable on its own.
 */

export const SuiteRun = z.strictObject({
  /** Short name, unique in the suite; the run is stored as `<suite name>:<run name>`. */
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'letters, digits, - and _ only'),
  description: z.string().optional(),
  dataset: DatasetConfig,
  attacks: z.array(NamedEntry).min(1),
  /** Replaces the suite's default judges for this run (helpfulness runs use graders). */
  judges: z.array(NamedEntry).optional(),
  samples: z.number().int().positive().max(100).optional(),
});
export type SuiteRun = z.infer<typeof SuiteRun>;

export const SuiteConfig = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/i, 'letters, digits, ., - and _ only'),
  description: z.string().optional(),
  seed: z.number().int().optional(),
  targets: z.array(TargetSpec).min(1),
  models: z.record(z.string(), TargetSpec).optional(),
  /** Default judges of every run that names none. */
  judges: z.array(NamedEntry).default(['keyword']),
  runs: z.array(SuiteRun).min(1),
});
export type SuiteConfig = z.infer<typeof SuiteConfig>;

export interface LoadedSuite {
  suite: SuiteConfig;
  file: string;
  baseDir: string;
}

/** Reads and validates a suite file; errors name the file, line and path (`runs[2].dataset.every`). */
export function loadSuite(file: string, overrides: readonly string[] = []): LoadedSuite {
  const { config: suite, file: abs, baseDir, lineOf } = loadYamlFile(file, SuiteConfig, 'suite', overrides);
  const seen = new Set<string>();
  suite.runs.forEach((r, i) => {
    if (seen.has(r.name)) {
      throw new InputError(`duplicate run name '${r.name}'`, {
        file,
        line: lineOf(['runs', i, 'name']),
        field: `runs[${i}].name`,
      });
    }
    seen.add(r.name);
  });
  return { suite, file: abs, baseDir };
}

/** The run name a suite run is stored under. */
export function suiteRunName(suite: string, run: string): string {
  return `${suite}:${run}`;
}

/** One validated run config per suite run, in order (`only` keeps the named runs). */
export function expandSuite(
  suite: SuiteConfig,
  only?: readonly string[],
): { name: string; config: RunConfig }[] {
  if (only?.length) {
    const unknown = only.filter((n) => !suite.runs.some((r) => r.name === n));
    if (unknown.length) {
      throw new InputError(
        `no run named ${unknown.join(', ')} in suite ${suite.name} (have: ${suite.runs.map((r) => r.name).join(', ')})`,
      );
    }
  }
  return suite.runs
    .filter((r) => !only?.length || only.includes(r.name))
    .map((r) => {
      const config: RunConfig = parseWith(RunConfig, {
        name: suiteRunName(suite.name, r.name),
        ...(r.description !== undefined ? { description: r.description } : {}),
        ...(suite.seed !== undefined ? { seed: suite.seed } : {}),
        dataset: r.dataset,
        attacks: r.attacks,
        targets: suite.targets,
        judges: r.judges ?? suite.judges,
        ...(suite.models ? { models: suite.models } : {}),
        ...(r.samples !== undefined ? { samples: r.samples } : {}),
      });
      return { name: r.name, config };
    });
}
