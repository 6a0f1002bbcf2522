import { readFileSync } from 'node:fs';
import type { RunConfig, TargetSpec } from '../config/schema.js';
import { InputError } from '../errors.js';
import type { Behavior } from '../types.js';
import type { Attack } from '../attack/attack.js';
import { createAttacks } from '../attack/registry.js';
import type { Judge } from '../judge/judge.js';
import { createJudge } from '../judge/registry.js';
import { loadBehaviors, resolveDatasetFile, type DatasetSpec } from '../dataset/load.js';
import { createTarget, endpointLimits, type TargetEnv } from '../target/create.js';
import { inShard, type Shard } from '../store/shard.js';
import type { Target } from '../target/target.js';
import { TargetSpec as TargetSpecSchema } from '../config/schema.js';
import { parseWith, type ConfigSource } from '../config/validate.js';
import { canonicalJson, sha256 } from '../util/hash.js';
import { fileErrorReason } from '../util/fs-errors.js';
import { checkPinnedPackFile } from '../data/packs.js';
import { runAnswers } from '../store/run-answers.js';
import { ModelCalls, type CallRole, type EndpointLimits } from '../service/model-calls.js';
import { BatchDelivery, wantsBatch } from '../batch/delivery.js';

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
  /** Auxiliary models by config name, created on first use (attacker role unless `role` says judge). */
  model(name: string, path: string, role?: CallRole): Target;
  /** The model-call service every target, attacker and judge call goes through. */
  calls: ModelCalls;
  /** Targets and models delivered through provider batch APIs (`batch: true`; src/batch/). */
  batches?: BatchDelivery;
  samples: number;
  seed: number;
  /** The dataset file the behaviors were read from, and its sha256 (a resumed run must find the same). */
  datasetFile: string;
  datasetSha256: string;
  casesTotal: number;
  /** `run --shard i/n`: only this share of the cases runs (runner/shard.ts); `casesTotal` counts them. */
  shard?: Shard;
  /** With a shard: the cases of the whole plan. */
  planCases?: number;
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
  /** The config file, so attack, judge and provider option errors name its line. */
  source?: ConfigSource;
  env: NodeJS.ProcessEnv;
  /** A dry run: targets are built to validate them but never called, so missing API keys are allowed. */
  dryRun?: boolean;
  /** Response cache on (default) or off (`--no-cache`). */
  useCache?: boolean;
  /** `--max-cost`: USD budget for the whole run (every invocation). */
  maxCostUsd?: number;
}

export async function buildPlan(config: RunConfig, ctx: PlanContext): Promise<RunPlan> {
  const seed = config.seed ?? 0;
  const datasetSpec = toDatasetSpec(config.dataset);
  const { file } = resolveDatasetFile(datasetSpec, { dataDir: ctx.dataDir, baseDir: ctx.baseDir });
  // A `pack:` dataset is the pinned file, unedited since `data pull` (data/integrity.ts).
  if (datasetSpec.pack !== undefined && datasetSpec.file !== undefined)
    checkPinnedPackFile(datasetSpec.pack, datasetSpec.file, file);
  let datasetSha256: string;
  try {
    datasetSha256 = sha256(readFileSync(file));
  } catch (err) {
    throw new InputError(`cannot read the dataset: ${fileErrorReason(err)}`, { file }, err);
  }
  const behaviors = loadBehaviors(datasetSpec, { dataDir: ctx.dataDir, baseDir: ctx.baseDir });

  const attackEnv = { dataDir: ctx.dataDir, seed, source: ctx.source };
  // Each attack and judge module is imported here, when the config names it.
  const attacks: Attack[] = [];
  for (const [i, spec] of config.attacks.entries())
    attacks.push(...(await createAttacks(spec, attackEnv, `attacks[${i}]`)));
  uniqueBy(attacks, (a) => `${a.name}/${a.variant}`, 'attacks', 'attack variant');
  for (const a of attacks) a.check?.(behaviors);

  const calls = new ModelCalls({
    useCache: ctx.useCache,
    maxCostUsd: ctx.maxCostUsd,
    prices: config.prices,
    breakerThreshold: config.circuit_breaker,
    maxResponseBytes: config.max_response_bytes,
  });
  const batches = new BatchDelivery(ctx.env);
  const served = new ServiceTargets(
    calls,
    { env: ctx.env, baseDir: ctx.baseDir, keyOptional: ctx.dryRun === true, source: ctx.source },
    batches,
  );
  const targets = config.targets.map((spec, i) => served.open(spec, `targets[${i}]`, 'target', 'target'));
  uniqueBy(targets, (t) => t.id, 'targets', 'target (give one a `label`)');

  // A config model serves attackers (`attacker:<name>`) and judges (`judge:<name>`): one wrapper per role,
  // one endpoint state (limiter, breaker) for both.
  const models = new Map<string, Target>();
  const model = (name: string, path: string, role: CallRole = 'attacker'): Target => {
    const key = `${role}\u0000${name}`;
    let t = models.get(key);
    if (!t) {
      const spec = config.models?.[name];
      if (!spec) {
        const known = Object.keys(config.models ?? {});
        throw new InputError(
          `no model named '${name}' in the config's models section${known.length ? ` (have: ${known.join(', ')})` : ''}`,
          { field: path },
        );
      }
      t = served.open(spec, `models.${name}`, role, `${role}:${name}`);
      models.set(key, t);
    }
    return t;
  };
  const judgeEnv = {
    dataDir: ctx.dataDir,
    source: ctx.source,
    runAnswers,
    model: (spec: unknown, path: string): Target => {
      if (typeof spec === 'string') return model(spec, path, 'judge');
      const inline: TargetSpec = parseWith(TargetSpecSchema, spec, [path]);
      return served.open(inline, path, 'judge', `judge:${path}`);
    },
  };
  const judges: Judge[] = [];
  for (const [i, spec] of config.judges.entries())
    judges.push(await createJudge(spec, judgeEnv, `judges[${i}]`));
  uniqueBy(judges, (j) => j.id, 'judges', 'judge id (set `id` to tell two apart)');

  const samples = config.samples ?? 1;
  return {
    config,
    behaviors,
    attacks,
    targets,
    judges,
    model,
    calls,
    batches,
    samples,
    seed,
    datasetFile: file,
    datasetSha256,
    casesTotal: behaviors.length * attacks.length * targets.length * samples,
    close: () => served.close(),
  };
}

/**
 * The one way a target is made for the engine: `createTarget` builds it from its spec, and the model-call
 * service wraps it under a role with its endpoint's limits (limitsOf), so every call is limited, retried,
 * counted, cached and logged. A spec delivered through provider batch APIs (`batch: true`, given
 * `batches`) is built there instead. Closes every target it opened.
 */
export class ServiceTargets {
  private readonly opened: Target[] = [];

  constructor(
    readonly calls: ModelCalls,
    private readonly env: TargetEnv,
    private readonly batches?: BatchDelivery,
  ) {}

  /** The target of `spec` (at config path `path`), its calls in the service under `role` as `source`. */
  open(spec: TargetSpec, path: string, role: CallRole, source: string): Target {
    if (this.batches && wantsBatch(spec, path)) {
      // A batch takes every request at once: no concurrency or rate limit of the live API applies.
      const batched = this.batches.target(spec, this.env, path);
      this.opened.push(batched);
      return this.calls.wrap(batched, role, source, {
        concurrency: batched.concurrency,
        ...(spec.price ? { price: spec.price } : {}),
      });
    }
    const raw = createTarget(spec, this.env, path);
    this.opened.push(raw);
    return this.calls.wrap(raw, role, source, limitsOf(spec));
  }

  async close(): Promise<void> {
    await Promise.all(this.opened.map((t) => t.close?.()));
  }
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
        const id = caseId(behavior, attack, target, sample);
        if (plan.shard && !inShard(id, plan.shard)) continue;
        yield { id, behavior, attack, target, sample };
      }
    }
  }
}

/** The run id: a hash of the config and the dataset's content, so re-running the same command resumes. */
export function runIdFor(config: RunConfig, datasetSha256: string): string {
  return `run-${sha256(canonicalJson({ config, dataset: datasetSha256 })).slice(0, 12)}`;
}

/** The service's per-endpoint limits from a target spec (a replica pool: the sum of its replicas). */
export function limitsOf(spec: TargetSpec): Partial<EndpointLimits> {
  return { ...endpointLimits(spec), ...(spec.price !== undefined ? { price: spec.price } : {}) };
}

export function toDatasetSpec(d: RunConfig['dataset']): DatasetSpec {
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
    ...(d.where ? { where: d.where } : {}),
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
