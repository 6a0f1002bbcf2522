import { readFileSync } from 'node:fs';
import type { RunConfig, TargetSpec } from '../config/schema.js';
import { InputError } from '../errors.js';
import type { Behavior } from '../types.js';
import type { Attack } from '../attack/attack.js';
import { createAttacks } from '../attack/registry.js';
import type { Judge } from '../judge/judge.js';
import { createJudge } from '../judge/registry.js';
import { loadBehaviors, resolveDatasetFile, type DatasetSpec } from '../dataset/load.js';
import { createTarget } from '../target/create.js';
import type { Target } from '../target/target.js';
import { TargetSpec as TargetSpecSchema } from '../config/schema.js';
import { parseWith } from '../config/validate.js';
import { canonicalJson, sha256 } from '../util/hash.js';

/**
 * Everything a run needs, built from a validated config: the behaviors, attack variants, targets, judges and
 * auxiliary models, plus the deterministic ids that make runs resumable. Cases are never materialised:
 * `casesFor(target)` streams them.
 */
export interface RunPlan {
  config: RunConfig;
  behaviors: Behavior[];
  attacks: Attack[];
  targets: Target[];
  judges: Judge[];
  /** Auxiliary models by config name, created on first use. */
  model(name: string, path: string): Target;
  samples: number;
  seed: number;
  datasetSha256: string;
  casesTotal: number;
  close(): Promise<void>;
}

export interface PlannedCase {
  id: string;
  behavior: Behavior;
  attack: Attack;
  target: Target;
  sample: number;
}

export interface PlanContext {
  dataDir: string;
  baseDir: string;
  env: NodeJS.ProcessEnv;
  /** A dry run: targets are built to validate them but never called, so missing API keys are allowed. */
  dryRun?: boolean;
}

export function buildPlan(config: RunConfig, ctx: PlanContext): RunPlan {
  const seed = config.seed ?? 0;
  const datasetSpec = toDatasetSpec(config.dataset);
  const { file } = resolveDatasetFile(datasetSpec, { dataDir: ctx.dataDir, baseDir: ctx.baseDir });
  const datasetSha256 = sha256(readFileSync(file));
  const behaviors = loadBehaviors(datasetSpec, { dataDir: ctx.dataDir, baseDir: ctx.baseDir });

  const attackEnv = { dataDir: ctx.dataDir, seed };
  const attacks = config.attacks.flatMap((spec, i) => createAttacks(spec, attackEnv, `attacks[${i}]`));
  uniqueBy(attacks, (a) => `${a.name}/${a.variant}`, 'attacks', 'attack variant');

  const targetEnv = { env: ctx.env, baseDir: ctx.baseDir, keyOptional: ctx.dryRun === true };
  const targets = config.targets.map((spec, i) => createTarget(spec, targetEnv, `targets[${i}]`));
  uniqueBy(targets, (t) => t.id, 'targets', 'target (give one a `label`)');

  const models = new Map<string, Target>();
  const model = (name: string, path: string): Target => {
    let t = models.get(name);
    if (!t) {
      const spec = config.models?.[name];
      if (!spec) {
        const known = Object.keys(config.models ?? {});
        throw new InputError(
          `no model named '${name}' in the config's models section${known.length ? ` (have: ${known.join(', ')})` : ''}`,
          { field: path },
        );
      }
      t = createTarget(spec, targetEnv, `models.${name}`);
      models.set(name, t);
    }
    return t;
  };
  const judgeEnv = {
    dataDir: ctx.dataDir,
    model: (spec: unknown, path: string): Target => {
      if (typeof spec === 'string') return model(spec, path);
      const inline: TargetSpec = parseWith(TargetSpecSchema, spec, [path]);
      return createTarget(inline, targetEnv, path);
    },
  };
  const judges = config.judges.map((spec, i) => createJudge(spec, judgeEnv, `judges[${i}]`));
  uniqueBy(judges, (j) => j.id, 'judges', 'judge id (set `id` to tell two apart)');

  const samples = config.samples ?? 1;
  return {
    config,
    behaviors,
    attacks,
    targets,
    judges,
    model,
    samples,
    seed,
    datasetSha256,
    casesTotal: behaviors.length * attacks.length * targets.length * samples,
    async close() {
      await Promise.all([...targets, ...models.values()].map((t) => t.close?.()));
    },
  };
}

/** A case's id depends only on what it is, so the same case in a re-run finds its stored result. */
export function caseId(behavior: Behavior, attack: Attack, target: Target, sample: number): string {
  return sha256(JSON.stringify([behavior.id, attack.name, attack.variant, target.id, sample])).slice(0, 16);
}

/** The cases for one target, in dataset order, generated lazily. */
export function* casesFor(plan: RunPlan, target: Target): Generator<PlannedCase> {
  for (const behavior of plan.behaviors) {
    for (const attack of plan.attacks) {
      for (let sample = 0; sample < plan.samples; sample++) {
        yield { id: caseId(behavior, attack, target, sample), behavior, attack, target, sample };
      }
    }
  }
}

/** The run id: a hash of the config and the dataset's content, so re-running the same command resumes. */
export function runIdFor(config: RunConfig, datasetSha256: string): string {
  return `run-${sha256(canonicalJson({ config, dataset: datasetSha256 })).slice(0, 12)}`;
}

function toDatasetSpec(d: RunConfig['dataset']): DatasetSpec {
  return {
    path: d.path,
    pack: d.pack,
    file: d.file,
    format: d.format,
    field: d.field,
    idField: d.id_field,
    categoryField: d.category_field,
    every: d.every,
    sample: d.sample,
    seed: d.seed,
    limit: d.limit,
  };
}

function uniqueBy<T>(items: T[], key: (t: T) => string, field: string, what: string): void {
  const seen = new Set<string>();
  for (const it of items) {
    const k = key(it);
    if (seen.has(k)) throw new InputError(`duplicate ${what}: ${k}`, { field });
    seen.add(k);
  }
}
