import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ConfigSource } from '../config/validate.js';
import { parseWith } from '../config/validate.js';
import { dataDir } from '../data/dir.js';
import { loadBehaviors, resolveDatasetFile } from '../dataset/load.js';
import type { Behavior } from '../types.js';
import { servingOf } from '../derta/kinds/index.js';
import type { DertaVariant } from '../derta/types.js';
import { resolvePython, TrainConfig, type TrainObjective } from '../derta/trainer.js';
import { InputError } from '../errors.js';
import { toDatasetSpec } from '../runner/plan.js';
import { ModelResolver } from '../runner/resolve.js';
import { RunStore } from '../store/store.js';
import { canonicalJson, sha256 } from '../util/hash.js';
import { ARMS, type Arm } from './arms.js';
import type { LoopConfig } from './config.js';
import { llamaCppDefaults, type EngineName, type LlamaCppSetup } from './engines.js';
import type { RunContext } from './measure.js';
import { preflight, preflightError } from './preflight.js';
import { StageRunner } from './stage-runner.js';
import { Serving } from './serving.js';

/**
 * What every stage of a loop reads: the config, the resolved paths and engine, the store and stage runner,
 * the served models, and the goals split into trained and held out. Built once per invocation, after the
 * preflight has checked everything later stages need, before the first model call.
 */

export const SHARED_STAGES = ['attack', 'harvest', 'helpful'] as const;
export const ARM_STAGES = ['build', 'train', 'serve', 'reattack', 'compare'] as const;
export const STAGES = [...SHARED_STAGES, ...ARM_STAGES] as const;
export type StageName = (typeof STAGES)[number];

export interface LoopOptions {
  db: string;
  baseDir: string;
  configFile: string;
  source: ConfigSource;
  /** Stop after this stage (the rest stay pending); with variants, `<variant>:<stage>` from build on. */
  until?: string;
  progress: boolean;
  log: (line: string) => void;
  signal: AbortSignal;
}

export interface LoopContext {
  config: LoopConfig;
  o: LoopOptions;
  /** A path of the config, resolved against its folder. */
  rel: (p: string) => string;
  dataDir: string;
  loopId: string;
  workdir: string;
  baseModel: string;
  baseGguf: string | undefined;
  failureJudge: string;
  /** An external trainer (axolotl): the loop writes its config and waits for a served result. */
  external: boolean;
  python: string;
  llama: LlamaCppSetup;
  engine: EngineName;
  /** The training variants compared; `[null]` for a loop of one (the `build` and `train` sections). */
  arms: (Arm | null)[];
  store: RunStore;
  stages: StageRunner;
  models: ModelResolver;
  run: RunContext;
  serving: Serving;
  behaviors: Behavior[];
  holdout: ReadonlySet<string>;
  trainIds: ReadonlySet<string>;
  /** The key of the base model's attack stage (the re-attacks' too: same attacks, other model). */
  attackKey: Record<string, unknown>;
  beforeRun: string;
  /** A run id that carries its stage's key: a changed section or a new model gets a run of its own. */
  runIdOf: (side: string, key: unknown) => string;
}

export function armPrefix(arm: Arm | null): string {
  return arm ? `${arm.name}:` : '';
}

/** One training variant's place in the loop: its stage prefix, folder, data variant and objective. */
export interface ArmSetup {
  arm: Arm | null;
  /** `derta:` (empty for a loop of one). */
  prefix: string;
  dir: string;
  variant: DertaVariant;
  objective: TrainObjective;
  reset: string | undefined;
  /** What its runs are called (`trained: derta`). */
  label: string;
}

export function armSetup(c: LoopContext, arm: Arm | null): ArmSetup {
  const dir = arm ? path.join(c.workdir, 'variants', arm.name) : c.workdir;
  mkdirSync(dir, { recursive: true });
  return {
    arm,
    prefix: armPrefix(arm),
    dir,
    variant: arm?.variant ?? c.config.build.variant,
    objective: arm?.objective ?? c.config.train.objective,
    reset: resetToken(c.config, arm),
    label: arm ? `trained: ${arm.name}` : 'trained',
  };
}

/** A backtracking variant's reset token (served models answer with the text after it). */
export function resetToken(config: LoopConfig, arm: Arm | null): string | undefined {
  return servingOf(arm?.variant ?? config.build.variant, { resetToken: config.build.reset_token }).resetToken;
}

export function trainConfig(
  config: LoopConfig,
  baseModel: string,
  outputDir: string,
  data: { data: string },
  objective: TrainObjective = config.train.objective,
): TrainConfig {
  return parseWith(
    TrainConfig,
    { ...config.train, objective, model: baseModel, output_dir: outputDir, ...data },
    ['train'],
  );
}

/** Resolves and checks everything, then opens the store: the caller closes it with `closeLoop`. */
export function openLoop(config: LoopConfig, o: LoopOptions): LoopContext {
  const dir = dataDir();
  const rel = (p: string): string => path.resolve(o.baseDir, p);
  const { file: datasetFile } = resolveDatasetFile(toDatasetSpec(config.dataset), {
    dataDir: dir,
    baseDir: o.baseDir,
  });
  const datasetSha = sha256(readFileSync(datasetFile));
  // A loop is its name, goals and base model; its sections may change, and each stage's key says what to redo.
  const loopId = `loop-${sha256(canonicalJson({ name: config.name ?? null, dataset: datasetSha, base: config.base.model })).slice(0, 12)}`;
  const workdir = config.workdir ? rel(config.workdir) : path.resolve(path.dirname(o.db), 'loops', loopId);
  mkdirSync(workdir, { recursive: true });
  const baseModel = rel(config.base.model);
  const baseGguf = config.base.gguf ? rel(config.base.gguf) : undefined;
  const arms: (Arm | null)[] = config.variants ? config.variants.map((v) => ARMS[v]) : [null];
  const external = config.trainer === 'axolotl';
  const python = resolvePython(
    { ...config.train, model: baseModel, output_dir: workdir } as TrainConfig,
    o.baseDir,
  );
  const llama = llamaCppDefaults(
    {
      ...(config.llamacpp.python ? { python: config.llamacpp.python } : {}),
      ...(config.llamacpp.converter ? { converter: config.llamacpp.converter } : {}),
      ...(config.llamacpp.threads ? { threads: config.llamacpp.threads } : {}),
      ...(config.llamacpp.n_ctx ? { nCtx: config.llamacpp.n_ctx } : {}),
    },
    o.baseDir,
  );
  const engine: EngineName =
    config.engine === 'auto'
      ? baseGguf && existsSync(llama.python)
        ? 'llamacpp'
        : 'refusenik'
      : config.engine;

  // Before the first model call: everything later stages need.
  const resetArm = arms.find((a) => resetToken(config, a));
  const check = preflight({
    model: baseModel,
    trains: !external,
    trainConfig: trainConfig(config, baseModel, workdir, { data: workdir }),
    needsTemplate:
      config.build.template === 'chat' || !!config.depth || !!config.transition || config.health.retention,
    refusalTokens: [
      ...(config.build.refusal_token !== undefined ? [config.build.refusal_token] : ['Sorry']),
      ...(config.transition?.refusal_tokens ?? []),
    ],
    ...(resetArm !== undefined ? { resetToken: resetToken(config, resetArm) } : {}),
    engine: config.base.served && config.serve.target ? 'external' : engine,
    llamacpp: llama,
    ...(baseGguf ? { gguf: baseGguf } : {}),
    workdir,
    python,
  });
  if (check.problems.length) throw preflightError(check.problems);
  for (const k of [...(config.depth?.k ?? []), ...(config.transition?.k ?? [])]) {
    if (k > config.generation.max_tokens)
      throw new InputError(
        `k = ${k} is longer than the harmful answers can be (generation.max_tokens ${config.generation.max_tokens})`,
        { field: 'depth.k' },
      );
  }

  const behaviors = loadBehaviors(toDatasetSpec(config.dataset), { dataDir: dir, baseDir: o.baseDir });
  // A goal is held out by a hash of its id (sha256: well spread even for ids that differ in one character).
  const holdout = new Set(
    behaviors
      .filter(
        (b) => parseInt(sha256(`${config.seed}:holdout:${b.id}`).slice(0, 8), 16) / 2 ** 32 < config.holdout,
      )
      .map((b) => b.id),
  );
  const attackKey = {
    dataset: datasetSha,
    dataset_spec: config.dataset,
    attacks: config.attacks,
    judges: config.judges,
    models: config.models ?? null,
    generation: config.generation,
    base: config.base,
    engine,
    seed: config.seed,
    evaluations: config.evaluations,
  };
  const runIdOf = (side: string, key: unknown): string =>
    `${loopId}-${side}-${sha256(canonicalJson(key)).slice(0, 10)}`;

  const store = RunStore.open(o.db);
  store.putLoop({ id: loopId, name: config.name ?? null, config, config_file: o.configFile });
  const stageNames = [...SHARED_STAGES, ...arms.flatMap((a) => ARM_STAGES.map((s) => `${armPrefix(a)}${s}`))];
  return {
    config,
    o,
    rel,
    dataDir: dir,
    loopId,
    workdir,
    baseModel,
    baseGguf,
    failureJudge: config.failure_judge ?? judgeName(config.judges[0]),
    external,
    python,
    llama,
    engine,
    arms,
    store,
    stages: new StageRunner(store, loopId, stageNames, o.log, o.until),
    models: new ModelResolver({ named: config.models ?? {} }),
    run: {
      store,
      config,
      db: o.db,
      dataDir: dir,
      baseDir: o.baseDir,
      configFile: o.configFile,
      source: o.source,
      progress: o.progress,
      signal: o.signal,
      log: o.log,
    },
    serving: new Serving({ config, engine, llama, python, baseModel, baseGguf, log: o.log }),
    behaviors,
    holdout,
    trainIds: new Set(behaviors.filter((b) => !holdout.has(b.id)).map((b) => b.id)),
    attackKey,
    beforeRun: runIdOf('before', attackKey),
    runIdOf,
  };
}

/** Stops every served model and closes the store. */
export async function closeLoop(c: LoopContext): Promise<void> {
  try {
    await c.models.close();
    await c.serving.close();
  } finally {
    c.store.close();
  }
}

function judgeName(entry: unknown): string {
  if (typeof entry === 'string') return entry;
  const spec = entry as Record<string, unknown>;
  const [name, opts] = Object.entries(spec)[0] ?? ['keyword', {}];
  const id = (opts as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' ? id : name;
}
