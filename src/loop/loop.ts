import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ConfigSource } from '../config/validate.js';
import { parseWith } from '../config/validate.js';
import { RunConfig, type TargetSpec } from '../config/schema.js';
import { dataDir } from '../data/dir.js';
import { loadBehaviors, resolveDatasetFile } from '../dataset/load.js';
import { buildDertaDataset, DEFAULT_RESET_TOKEN } from '../derta/build.js';
import { buildOptions } from '../derta/build-spec.js';
import { resolvePython, trainModel, TrainConfig, type TrainerEvent } from '../derta/trainer.js';
import { InputError, RuntimeFailure } from '../errors.js';
import { buildPlan, toDatasetSpec } from '../runner/plan.js';
import { executeStoredRun } from '../runner/session.js';
import { RunStore, type LoopStage } from '../store/store.js';
import { comparePaired, type PairedComparison } from '../analysis/paired.js';
import { pairedScores } from '../analysis/paired-scores.js';
import { ModelResolver } from '../target/resolve.js';
import { canonicalJson, sha256 } from '../util/hash.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import type { LoopConfig } from './config.js';
import { failuresOf, safeResponses, type Triple } from './harvest.js';
import { serveModel, type ServedModel } from './serve.js';
import { renderLoopReport, type LoopReport } from './report.js';
import type { TransitionResult } from '../analysis/transition-run.js';

/**
 * `refusenik loop`: attack → harvest → build → train → serve → re-attack → compare, each stage recorded in
 * the run store with a key made from everything it was built from. A re-run skips every stage whose key and
 * outputs are unchanged, so a loop killed between (or during) stages resumes where it stopped, and a changed
 * section redoes that stage and the ones after it.
 */

export const STAGES = ['attack', 'harvest', 'build', 'train', 'serve', 'reattack', 'compare'] as const;
export type StageName = (typeof STAGES)[number];

export interface LoopOptions {
  db: string;
  baseDir: string;
  configFile: string;
  source: ConfigSource;
  /** Stop after this stage (the rest stay pending). */
  until?: StageName;
  progress: boolean;
  log: (line: string) => void;
  signal: AbortSignal;
}

export interface LoopResult {
  loop_id: string;
  /** ran: done in this invocation; cached: reused from an earlier one; pending: not reached. */
  stages: {
    name: StageName;
    status: 'ran' | 'cached' | 'failed' | 'pending';
    output?: Record<string, unknown>;
  }[];
  before_run: string | null;
  after_run: string | null;
  workdir: string;
  report: string | null;
  /** Why the failed stage failed (the loop stops there; a re-run resumes from it). */
  error?: Error;
  /** What the user must do before the loop can go on (an external trainer). */
  next?: string;
}

type Outputs = Partial<Record<StageName, Record<string, unknown>>>;

export async function runLoop(config: LoopConfig, o: LoopOptions): Promise<LoopResult> {
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
  const failureJudge = config.failure_judge ?? judgeName(config.judges[0]);

  const store = RunStore.open(o.db);
  store.putLoop({
    id: loopId,
    name: config.name ?? null,
    config,
    config_file: o.configFile,
  });
  const previous = new Map(store.loopStages(loopId).map((s) => [s.name, s]));
  const result: LoopResult = {
    loop_id: loopId,
    stages: STAGES.map((name) => ({ name, status: 'pending' })),
    before_run: null,
    after_run: null,
    workdir,
    report: null,
  };
  const outputs: Outputs = {};
  const servers: ServedModel[] = [];
  const models = new ModelResolver({ named: config.models ?? {} });
  let baseServed: Promise<TargetSpec> | undefined;
  let trainedServed: Promise<TargetSpec> | undefined;
  const python = (): string =>
    resolvePython({ ...config.train, model: baseModel, output_dir: workdir } as TrainConfig, o.baseDir);

  /** A model folder served by the trainer's server for the rest of this invocation. */
  const served = async (name: 'base' | 'trained', model: string, adapterOf?: string): Promise<TargetSpec> => {
    const s = await serveModel({
      python: python(),
      model,
      ...(adapterOf ? { baseModel: adapterOf } : {}),
      name,
      maxNewTokens: config.serve.max_new_tokens,
      precision: config.serve.precision,
      // A model trained on backtrack rows answers with what follows its last reset token.
      ...(name === 'trained' && config.build.variant === 'backtrack'
        ? { resetToken: config.build.reset_token ?? DEFAULT_RESET_TOKEN }
        : {}),
    });
    servers.push(s);
    o.log(`loop: serving the ${name} model at ${s.url}`);
    return targetSpec({ id: `openai:${name}`, base_url: s.url }, name, config);
  };
  const baseTarget = (): Promise<TargetSpec> =>
    (baseServed ??= config.base.served
      ? Promise.resolve(targetSpec(config.base.served, 'base', config))
      : served('base', baseModel));
  const trainedTarget = (): Promise<TargetSpec> => {
    const t = outputs.train as { model_dir: string; adapter: boolean };
    return (trainedServed ??= config.serve.target
      ? Promise.resolve(targetSpec(config.serve.target, 'trained', config))
      : served('trained', t.model_dir, t.adapter ? baseModel : undefined));
  };

  /** Runs (or reuses) one stage. Its key covers its own config and the outputs it reads. */
  const stage = async (
    name: StageName,
    key: unknown,
    valid: (out: Record<string, unknown>) => boolean,
    run: () => Promise<Record<string, unknown>>,
  ): Promise<boolean> => {
    const entry = result.stages.find((s) => s.name === name) as LoopResult['stages'][number];
    const inputKey = sha256(canonicalJson(key));
    const prior: LoopStage | undefined = previous.get(name);
    if (prior?.status === 'done' && prior.input_key === inputKey && prior.output && valid(prior.output)) {
      outputs[name] = prior.output;
      entry.status = 'cached';
      entry.output = prior.output;
      o.log(`loop: ${name}: done earlier, kept`);
    } else {
      o.log(`loop: ${name}...`);
      store.startLoopStage(loopId, name, STAGES.indexOf(name), inputKey);
      try {
        const out = await run();
        store.finishLoopStage(loopId, name, out);
        outputs[name] = out;
        entry.status = 'ran';
        entry.output = out;
      } catch (err) {
        store.finishLoopStage(loopId, name, null, err instanceof Error ? err.message : String(err));
        entry.status = 'failed';
        throw err;
      }
    }
    return o.until !== name;
  };

  /** The attacks, then each evaluation set, against one model; every run must end complete. */
  const attackStage = async (runId: string, target: TargetSpec): Promise<Record<string, unknown>> => {
    const main = { dataset: config.dataset, attacks: config.attacks, judges: config.judges };
    const cases = await runOne(runId, target, main, '');
    const evaluations: Record<string, string> = {};
    for (const e of config.evaluations) {
      evaluations[e.name] = `${runId}-${e.name}`;
      await runOne(`${runId}-${e.name}`, target, e, ` ${e.name}`);
    }
    return { run_id: runId, cases, evaluations };
  };

  const runOne = async (
    runId: string,
    target: TargetSpec,
    what: Pick<LoopConfig, 'dataset' | 'attacks' | 'judges'>,
    suffix: string,
  ): Promise<number> => {
    const runConfig = parseWith(
      RunConfig,
      {
        name: `${config.name ?? loopId} (${target.label ?? target.id})${suffix}`,
        seed: config.seed,
        dataset: what.dataset,
        attacks: what.attacks,
        targets: [target],
        judges: what.judges,
        ...(config.models ? { models: config.models } : {}),
      },
      [],
      o.source,
    );
    const plan = await buildPlan(runConfig, {
      dataDir: dir,
      baseDir: o.baseDir,
      source: o.source,
      env: process.env,
      dryRun: false,
      useCache: true,
    });
    try {
      const { status } = await executeStoredRun({
        store,
        runId,
        config: runConfig,
        plan,
        name: runConfig.name ?? null,
        configFile: o.configFile,
        useCache: true,
        progress: o.progress,
        signal: o.signal,
      });
      if (status !== 'complete') {
        throw new RuntimeFailure(`run ${runId} ended ${status}; run the loop again to resume it`);
      }
      return store.counts(runId).ok;
    } finally {
      await plan.close();
    }
  };

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
    seed: config.seed,
    evaluations: config.evaluations,
  };
  // Run ids carry their stage's key: a changed attack section or a new model gets a run of its own.
  const runIdOf = (side: string, key: unknown): string =>
    `${loopId}-${side}-${sha256(canonicalJson(key)).slice(0, 10)}`;
  const beforeRun = runIdOf('before', attackKey);
  let afterRun = '';
  const runDone = (out: Record<string, unknown>): boolean =>
    [String(out['run_id']), ...Object.values((out['evaluations'] ?? {}) as Record<string, string>)].every(
      (id) => store.getRun(id)?.status === 'complete',
    );

  try {
    go: {
      if (
        !(await stage('attack', attackKey, runDone, async () => attackStage(beforeRun, await baseTarget())))
      )
        break go;
      result.before_run = beforeRun;

      const harvestKey = {
        attack: outputs.attack,
        safe: config.safe,
        helpful: config.helpful ?? null,
        holdout: config.holdout,
        judge: failureJudge,
        seed: config.seed,
      };
      const triplesFile = path.join(workdir, 'triples.jsonl');
      const harvestOk = (): boolean => existsSync(triplesFile);
      if (
        !(await stage('harvest', harvestKey, harvestOk, async () => {
          const failures = failuresOf(store, beforeRun, failureJudge).filter(
            (f) => !holdout.has(f.behaviorId),
          );
          if (failures.length === 0) {
            throw new RuntimeFailure(
              `the base model has no failures on the training goals by judge '${failureJudge}': nothing to learn from`,
            );
          }
          const goals = [...new Set(failures.map((f) => f.goal))];
          const safe = await safeResponses(
            config.safe,
            goals,
            rel,
            (name) => models.resolve(name, `models.${name}`, 'attacker', 'safe.model'),
            dir,
          );
          const triples: Triple[] = failures.map((f) => {
            const s = safe.get(f.goal) as { text: string; source: string };
            return {
              instruction: f.goal,
              output: f.response,
              safe_response: s.text,
              case_id: f.caseId,
              attack: f.attack,
              variant: f.variant,
              safe_source: s.source,
            };
          });
          writeFileAtomic(triplesFile, triples.map((t) => JSON.stringify(t)).join('\n') + '\n');
          return {
            triples: triplesFile,
            count: triples.length,
            goals: goals.length,
            holdout_goals: holdout.size,
            train_goals: behaviors.length - holdout.size,
            judge: failureJudge,
          };
        }))
      )
        break go;

      const dataOut = path.join(workdir, 'data');
      const buildKey = {
        harvest: outputs.harvest,
        triples_sha: sha256(readFileSync(triplesFile)),
        build: config.build,
        helpful: config.helpful ?? null,
        block: config.train.hyper.block_size ?? null,
        preset: config.train.preset,
      };
      const axolotl = config.trainer === 'axolotl';
      const builtData = (): boolean =>
        axolotl
          ? existsSync(path.join(dataOut, 'axolotl.yaml'))
          : existsSync(path.join(dataOut, 'train.jsonl')) || existsSync(path.join(dataOut, 'train.parquet'));
      if (
        !(await stage('build', { ...buildKey, trainer: config.trainer }, builtData, async () => {
          // The trainer reads jsonl or parquet; axolotl gets its own dataset and axolotl.yaml.
          const format = axolotl ? 'axolotl' : config.build.format;
          if (format !== 'axolotl' && format !== 'jsonl' && format !== 'parquet') {
            throw new InputError(`the trainer reads jsonl or parquet, not ${format}`, {
              field: 'build.format',
            });
          }
          const res = buildDertaDataset(
            buildOptions(
              {
                ...config.build,
                triples: triplesFile,
                ...(config.helpful ? { helpful: config.helpful } : {}),
                format,
                ...(axolotl ? { axolotl: { base_model: baseModel, preset: config.train.preset } } : {}),
              },
              o.baseDir,
              {
                tokenizer: baseModel,
                blockSize: config.train.hyper.block_size ?? (config.train.preset === 'lora' ? 512 : 1024),
                epochs: Math.ceil(config.train.hyper.epochs ?? 2),
                out: dataOut,
              },
            ),
          );
          return { data: dataOut, counts: res.stats['counts'] ?? null };
        }))
      )
        break go;

      const trainKey = { build: outputs.build, train: config.train, base: baseModel };
      // One folder per training input: an interrupted run resumes from its own checkpoints, a changed one starts afresh.
      const modelDir = path.join(workdir, `model-${sha256(canonicalJson(trainKey)).slice(0, 10)}`);
      const trained = (out: Record<string, unknown>): boolean =>
        existsSync(String(out['model_dir'] ?? out['axolotl_config']));
      if (
        !(await stage('train', { ...trainKey, trainer: config.trainer }, trained, async () => {
          if (axolotl) {
            // Trained elsewhere: the stage hands over the data and the config, and says how.
            const cfg = path.join(dataOut, 'axolotl.yaml');
            return { external: 'axolotl', axolotl_config: cfg, command: `axolotl train ${cfg}` };
          }
          const tc = trainConfig(config, baseModel, modelDir, { data: String(outputs.build?.['data']) });
          let steps = 0;
          const { done, last } = await trainModel(tc, o.baseDir, {
            onEvent: (e: TrainerEvent) => {
              if (e.event === 'step') steps = Number(e['step']);
            },
          });
          return {
            model_dir: modelDir,
            adapter: done['adapter'] === true,
            steps: Number(done['step'] ?? steps),
            last_loss: typeof last?.['loss'] === 'number' ? last['loss'] : null,
            tokens: done['tokens'] ?? null,
          };
        }))
      )
        break go;

      if (axolotl && !config.serve.target) {
        result.next =
          `train with \`${String(outputs.train?.['command'])}\`, serve the result (e.g. vllm serve), set ` +
          'serve.target in the loop config to that endpoint, and run the loop again';
        break go;
      }
      const serveKey = { train: outputs.train, serve: config.serve };
      if (
        !(await stage(
          'serve',
          serveKey,
          () => true,
          async () => {
            const t = outputs.train as { model_dir?: string; adapter?: boolean };
            if (t.model_dir === undefined) return { engine: 'external', vllm_command: null };
            // What to run to serve the result at scale; the loop itself uses the trainer's server or serve.target.
            const vllm = t.adapter
              ? `vllm serve ${baseModel} --enable-lora --lora-modules trained=${t.model_dir} --max-lora-rank ${config.train.hyper.lora_r ?? 96}`
              : `vllm serve ${t.model_dir} --served-model-name trained`;
            return { engine: config.serve.target ? 'external' : 'refusenik-serve', vllm_command: vllm };
          },
        ))
      )
        break go;

      const reattackKey = { attack: attackKey, train: outputs.train, serve: config.serve };
      afterRun = runIdOf('after', reattackKey);
      if (
        !(await stage('reattack', reattackKey, runDone, async () =>
          attackStage(afterRun, await trainedTarget()),
        ))
      )
        break go;
      result.after_run = afterRun;

      const reportFile = path.join(workdir, 'report.html');
      const compareKey = {
        before: outputs.attack,
        after: outputs.reattack,
        judge: failureJudge,
        transition: config.transition ?? null,
        holdout: [...holdout].sort(),
      };
      await stage(
        'compare',
        compareKey,
        () => existsSync(reportFile),
        async () => {
          const split = (ids: ReadonlySet<string> | undefined): PairedComparison =>
            comparePaired(
              store,
              { runId: beforeRun, behaviors: ids },
              { runId: afterRun, behaviors: ids },
              failureJudge,
            );
          const trainIds = new Set(behaviors.filter((b) => !holdout.has(b.id)).map((b) => b.id));
          const comparison = {
            all: split(undefined),
            trained_goals: trainIds.size ? split(trainIds) : null,
            held_out_goals: holdout.size ? split(holdout) : null,
          };
          // Helpfulness and over-refusal: each evaluation set's judge scores, paired before vs after.
          const beforeEvals = (outputs.attack?.['evaluations'] ?? {}) as Record<string, string>;
          const afterEvals = (outputs.reattack?.['evaluations'] ?? {}) as Record<string, string>;
          const evaluations = config.evaluations.map((e) => ({
            name: e.name,
            rows: pairedScores(
              store,
              beforeEvals[e.name] as string,
              afterEvals[e.name] as string,
              config.seed,
            ),
          }));
          let transition: TransitionResult | null = null;
          if (config.transition) {
            const { runTransition } = await import('../analysis/transition-run.js');
            const before = await baseTarget();
            const after = await trainedTarget();
            const probeModels = new ModelResolver({
              named: { base: completionsOnly(before), trained: completionsOnly(after) },
            });
            try {
              transition = await runTransition(
                {
                  probe: {
                    tokenizer: config.transition.tokenizer ? rel(config.transition.tokenizer) : baseModel,
                    source: triplesFile,
                    k: config.transition.k,
                  },
                  dataset: { path: triplesFile },
                  targets: ['base', 'trained'],
                  refusal: config.transition.refusal_tokens,
                  top: config.transition.top,
                  concurrency: 4,
                  seed: config.seed,
                },
                probeModels,
                o.db,
                true,
              );
            } finally {
              await probeModels.close();
            }
          }
          const report: LoopReport = {
            loop_id: loopId,
            name: config.name ?? null,
            generated_at: new Date().toISOString(),
            judge: failureJudge,
            stages: store
              .loopStages(loopId)
              .map((s) => ({ name: s.name, status: s.status, finished_at: s.finished_at })),
            before_run: beforeRun,
            after_run: afterRun,
            harvest: outputs.harvest ?? {},
            train: outputs.train ?? {},
            comparison,
            evaluations,
            transition: transition && {
              curves: transition.curves,
              difference: transition.difference,
              refusal_tokens: transition.refusal_tokens,
            },
          };
          writeFileSync(path.join(workdir, 'comparison.json'), JSON.stringify(report, null, 2));
          writeFileAtomic(reportFile, renderLoopReport(report));
          return {
            report: reportFile,
            asr_before: comparison.all.rows.at(-1)?.asr_a ?? null,
            asr_after: comparison.all.rows.at(-1)?.asr_b ?? null,
            transition_run: transition?.run_id ?? null,
          };
        },
      );
      result.report = reportFile;
    }
  } catch (err) {
    result.error = err instanceof Error ? err : new Error(String(err));
  }
  try {
    if (outputs.attack) result.before_run = beforeRun;
    if (outputs.reattack) result.after_run = afterRun;
    return result;
  } finally {
    await models.close();
    await Promise.all(servers.map((s) => s.close()));
    store.close();
  }
}

function judgeName(entry: unknown): string {
  if (typeof entry === 'string') return entry;
  const spec = entry as Record<string, unknown>;
  const [name, opts] = Object.entries(spec)[0] ?? ['keyword', {}];
  const id = (opts as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' ? id : name;
}

function trainConfig(
  config: LoopConfig,
  baseModel: string,
  outputDir: string,
  data: { data: string },
): TrainConfig {
  return parseWith(TrainConfig, { ...config.train, model: baseModel, output_dir: outputDir, ...data }, [
    'train',
  ]);
}

/** The target spec of one side: the configured endpoint with the loop's sampling and a fixed label. */
function targetSpec(spec: Record<string, unknown>, label: string, config: LoopConfig): TargetSpec {
  return {
    retries: 1,
    ...spec,
    label,
    temperature: config.generation.temperature,
    max_tokens: config.generation.max_tokens,
  } as TargetSpec;
}

/** The probe sends raw text to /completions: no system prompt or chat-only options of the attack target. */
function completionsOnly(spec: TargetSpec): TargetSpec {
  const { temperature: _t, max_tokens: _m, ...rest } = spec as TargetSpec & Record<string, unknown>;
  return rest as TargetSpec;
}
