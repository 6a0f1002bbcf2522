import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { ConfigSource } from '../config/validate.js';
import { parseWith } from '../config/validate.js';
import type { TargetSpec } from '../config/schema.js';
import { dataDir } from '../data/dir.js';
import { loadBehaviors, resolveDatasetFile } from '../dataset/load.js';
import { buildDertaDataset, DEFAULT_RESET_TOKEN } from '../derta/build.js';
import { buildOptions } from '../derta/build-spec.js';
import { loadTokenizer } from '../text/tokenizer.js';
import {
  resolvePython,
  stepBar,
  trainHyper,
  trainModel,
  TrainConfig,
  type TrainerEvent,
} from '../derta/trainer.js';
import { InputError, RuntimeFailure } from '../errors.js';
import { toDatasetSpec } from '../runner/plan.js';
import { RunStore } from '../store/store.js';
import { pairedScores } from '../analysis/paired-scores.js';
import { ModelResolver } from '../runner/resolve.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { canonicalJson, sha256 } from '../util/hash.js';
import type { TransitionResult } from '../analysis/transition-run.js';
import { ARMS, type Arm, type ArmName } from './arms.js';
import { compareSides, type Comparison, type Split } from './compare.js';
import type { LoopConfig } from './config.js';
import {
  convertLoraToGguf,
  llamaCppDefaults,
  serveLlamaCpp,
  serveModel,
  type EngineName,
} from './engines.js';
import {
  depthAnswers,
  failuresOf,
  HARVEST_FILTER_VERSION,
  safeResponses,
  screenFailures,
  type Triple,
} from './harvest.js';
import { helpfulFromFile, helpfulFromRun, splitHelpful, type HelpfulRecord } from './helpful.js';
import { measureSide, runAgainst, type DepthInputs, type RunContext, type SideRuns } from './measure.js';
import { preflight, preflightError } from './preflight.js';
import {
  ablationDepthSvg,
  ablationTransitionSvg,
  renderAblation,
  renderAblationMarkdown,
  renderLoopReport,
  standaloneSvg,
  type AblationRow,
  type LoopReport,
} from './report.js';
import type { ServedModel } from './serve.js';
import { StageRunner, type StageEntry } from './stages.js';

/**
 * `refusenik loop`: attack → harvest → helpful → build → train → serve → re-attack → compare, each stage
 * recorded in the run store with a key made from everything it was built from (stages.ts). A re-run keeps
 * every stage whose key and outputs are unchanged, so a loop killed between (or during) stages resumes where
 * it stopped, and a changed section redoes that stage and the ones after it. With `variants`, the stages from
 * build on run once per training variant (the ablation), all against the same attacked base and harvest.
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

export interface ArmResult {
  variant: string;
  after_run: string | null;
  report: string | null;
  comparison: string | null;
  collapsed: boolean | null;
}

export interface LoopResult {
  loop_id: string;
  /** ran: done in this invocation; cached: reused from an earlier one; pending: not reached. */
  stages: StageEntry[];
  before_run: string | null;
  after_run: string | null;
  workdir: string;
  report: string | null;
  /** Whether the (single) trained model collapsed; see comparison.json's collapse_reasons. */
  collapsed: boolean | null;
  /** One entry per training variant (the ablation); absent for a single-variant loop. */
  variants?: ArmResult[];
  ablation?: string;
  /** Why the failed stage failed (the loop stops there; a re-run resumes from it). */
  error?: Error;
  /** What the user must do before the loop can go on (an external trainer). */
  next?: string;
}

// ---- typed stage outputs (parsed when read back from the store) -------------------------------------------

const AttackOut = z.object({
  run_id: z.string(),
  cases: z.number(),
  evaluations: z.record(z.string(), z.string()),
});
const HarvestOut = z.object({
  triples: z.string(),
  count: z.number(),
  goals: z.number(),
  holdout_goals: z.number(),
  train_goals: z.number(),
  judge: z.string(),
  failures: z.number(),
  dropped: z.record(z.string(), z.number()),
  depth_goals: z.string().nullable(),
  harmful: z.string().nullable(),
  depth_count: z.number(),
});
const HelpfulOut = z.object({
  source: z.string(),
  run_id: z.string().nullable(),
  train: z.string().nullable(),
  heldout: z.string().nullable(),
  train_count: z.number(),
  heldout_count: z.number(),
  left_out: z.record(z.string(), z.number()),
});
const BuildOut = z.object({ data: z.string(), counts: z.unknown() });
const TrainOut = z.object({
  model_dir: z.string().optional(),
  adapter: z.boolean().optional(),
  steps: z.number().optional(),
  first_loss: z.number().nullable().optional(),
  last_loss: z.number().nullable().optional(),
  converged: z.boolean().nullable().optional(),
  tokens: z.unknown().optional(),
  external: z.string().optional(),
  axolotl_config: z.string().optional(),
  command: z.string().optional(),
});
const ServeOut = z.object({
  engine: z.string(),
  adapter_gguf: z.string().nullable().optional(),
  vllm_command: z.string().nullable(),
});
const CompareOut = z.object({
  report: z.string(),
  comparison: z.string(),
  asr_before: z.number().nullable(),
  asr_after: z.number().nullable(),
  collapsed: z.boolean(),
  transition_run: z.string().nullable(),
});

type TrainOut = z.infer<typeof TrainOut>;

// ---- the loop ------------------------------------------------------------------------------------------

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
  const baseGguf = config.base.gguf ? rel(config.base.gguf) : undefined;
  const failureJudge = config.failure_judge ?? judgeName(config.judges[0]);
  const arms: (Arm | null)[] = config.variants ? config.variants.map((v) => ARMS[v]) : [null];
  const armPrefix = (arm: Arm | null): string => (arm ? `${arm.name}:` : '');
  const stageNames = [...SHARED_STAGES, ...arms.flatMap((a) => ARM_STAGES.map((s) => `${armPrefix(a)}${s}`))];
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
  const resetToken = (arm: Arm | null): string | undefined =>
    (arm?.variant ?? config.build.variant) === 'backtrack'
      ? (config.build.reset_token ?? DEFAULT_RESET_TOKEN)
      : undefined;

  // Before the first model call: everything later stages need.
  const servedBoth = !!config.base.served && !!config.serve.target;
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
    ...(arms.some((a) => resetToken(a))
      ? { resetToken: resetToken(arms.find((a) => resetToken(a)) ?? null) }
      : {}),
    engine: servedBoth ? 'external' : engine,
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
        {
          field: 'depth.k',
        },
      );
  }

  const store = RunStore.open(o.db);
  store.putLoop({ id: loopId, name: config.name ?? null, config, config_file: o.configFile });
  const stages = new StageRunner(store, loopId, stageNames, o.log, o.until);
  const result: LoopResult = {
    loop_id: loopId,
    stages: stages.entries,
    before_run: null,
    after_run: null,
    workdir,
    report: null,
    collapsed: null,
  };
  const servers: ServedModel[] = [];
  const models = new ModelResolver({ named: config.models ?? {} });
  const ctx: RunContext = {
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
  };

  /** A model served on a free loopback port for the rest of this invocation. */
  const serve = async (
    name: string,
    how: { hf: string; adapterOf?: string; lora?: string; resetToken?: string },
  ): Promise<TargetSpec> => {
    const s =
      engine === 'llamacpp'
        ? await serveLlamaCpp({
            setup: llama,
            gguf: baseGguf as string,
            name,
            ...(how.lora ? { lora: how.lora } : {}),
            ...(how.resetToken ? { resetToken: how.resetToken } : {}),
          })
        : await serveModel({
            python,
            model: how.hf,
            ...(how.adapterOf ? { baseModel: how.adapterOf } : {}),
            name,
            maxNewTokens: Math.max(config.serve.max_new_tokens, config.generation.max_tokens),
            precision: config.serve.precision,
            ...(how.resetToken ? { resetToken: how.resetToken } : {}),
          });
    servers.push(s);
    o.log(`loop: serving the ${name} model (${engine}) at ${s.url}`);
    return targetSpec({ id: `openai:${name}`, base_url: s.url }, name, config);
  };
  let baseServed: Promise<TargetSpec> | undefined;
  const baseTarget = (): Promise<TargetSpec> =>
    (baseServed ??= config.base.served
      ? Promise.resolve(targetSpec(config.base.served, 'base', config))
      : serve('base', { hf: baseModel }));

  const behaviors = loadBehaviors(toDatasetSpec(config.dataset), { dataDir: dir, baseDir: o.baseDir });
  // A goal is held out by a hash of its id (sha256: well spread even for ids that differ in one character).
  const holdout = new Set(
    behaviors
      .filter(
        (b) => parseInt(sha256(`${config.seed}:holdout:${b.id}`).slice(0, 8), 16) / 2 ** 32 < config.holdout,
      )
      .map((b) => b.id),
  );
  const trainIds = new Set(behaviors.filter((b) => !holdout.has(b.id)).map((b) => b.id));
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
  // Run ids carry their stage's key: a changed attack section or a new model gets a run of its own.
  const runIdOf = (side: string, key: unknown): string =>
    `${loopId}-${side}-${sha256(canonicalJson(key)).slice(0, 10)}`;
  const beforeRun = runIdOf('before', attackKey);
  const runsComplete = (out: z.infer<typeof AttackOut>): boolean =>
    [out.run_id, ...Object.values(out.evaluations)].every((id) => store.getRun(id)?.status === 'complete');

  /** The attacks, then each evaluation set, against one model. */
  const attackStage = async (
    runId: string,
    target: TargetSpec,
    label: string,
  ): Promise<z.infer<typeof AttackOut>> => {
    const main = { dataset: config.dataset, attacks: config.attacks, judges: config.judges };
    const cases = await runAgainst(ctx, runId, target, main, `${config.name ?? loopId} (${label})`);
    const evaluations: Record<string, string> = {};
    for (const e of config.evaluations) {
      evaluations[e.name] = `${runId}-${e.name}`;
      await runAgainst(ctx, `${runId}-${e.name}`, target, e, `${config.name ?? loopId} (${label}) ${e.name}`);
    }
    return { run_id: runId, cases, evaluations };
  };

  try {
    go: {
      const attack = await stages.run({
        name: 'attack',
        key: attackKey,
        output: AttackOut,
        valid: runsComplete,
        run: async () => attackStage(beforeRun, await baseTarget(), 'base'),
      });
      result.before_run = beforeRun;
      if (attack.stop) break go;

      // ---- harvest: the base model's own harmful answers become triples (training goals only) ----
      const triplesFile = path.join(workdir, 'triples.jsonl');
      const harvest = await stages.run({
        name: 'harvest',
        key: {
          attack: attack.output,
          safe: config.safe,
          harvest: config.harvest,
          holdout: config.holdout,
          judge: failureJudge,
          seed: config.seed,
          depth: config.depth ?? null,
          transition: config.transition ?? null,
          // The content filter's own version: a better filter redoes the harvest (and what follows).
          filter: HARVEST_FILTER_VERSION,
        },
        output: HarvestOut,
        valid: (out) => existsSync(out.triples),
        run: async () => {
          const all = failuresOf(store, beforeRun, failureJudge);
          const { kept, dropped } = screenFailures(all, config.harvest);
          const failures = kept.filter((f) => !holdout.has(f.behaviorId));
          if (failures.length === 0) {
            throw new RuntimeFailure(
              `the base model has no failures with harmful content on the training goals by judge '${failureJudge}' ` +
                `(${all.length} failures, dropped: ${JSON.stringify(dropped)}): nothing to learn from`,
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
              instruction: config.harvest.instruction === 'prompt' && f.prompt ? f.prompt : f.goal,
              ...(f.context ? { messages: f.context } : {}),
              output: f.response,
              safe_response: s.text,
              case_id: f.caseId,
              attack: f.attack,
              variant: f.variant,
              safe_source: s.source,
            };
          });
          writeFileAtomic(triplesFile, triples.map((t) => JSON.stringify(t)).join('\n') + '\n');
          // The depth probes' answers: one natural-language harmful answer per goal, held-out goals included
          // (nothing is trained on them; they measure whether refusing mid-answer generalises).
          let depthGoals: string | null = null;
          let harmful: string | null = null;
          const ks = [...(config.depth?.k ?? []), ...(config.transition?.k ?? [])];
          let depthCount = 0;
          if (ks.length) {
            const tok = loadTokenizer(
              config.transition?.tokenizer ? rel(config.transition.tokenizer) : baseModel,
            );
            const answers = depthAnswers(kept, (t) => tok.encode(t, false).length, Math.max(...ks) + 1);
            depthCount = answers.size;
            depthGoals = path.join(workdir, 'depth-goals.jsonl');
            harmful = path.join(workdir, 'harmful.jsonl');
            const chosen = behaviors.filter((b) => answers.has(b.id));
            writeFileAtomic(
              depthGoals,
              chosen.map((b) => JSON.stringify({ id: b.id, goal: b.text })).join('\n') + '\n',
            );
            writeFileAtomic(
              harmful,
              chosen
                .map((b) =>
                  JSON.stringify({ id: b.id, prompt: b.text, response: answers.get(b.id)?.response }),
                )
                .join('\n') + '\n',
            );
          }
          o.log(
            `loop: harvest: ${triples.length} triples from ${goals.length} training goals; left out ` +
              `${Object.entries(dropped)
                .map(([k, v]) => `${v} ${k}`)
                .join(', ')} of ${all.length} failures` +
              (ks.length ? `; ${depthCount} goals have an answer for the depth probes` : ''),
          );
          return {
            triples: triplesFile,
            count: triples.length,
            goals: goals.length,
            holdout_goals: holdout.size,
            train_goals: behaviors.length - holdout.size,
            judge: failureJudge,
            failures: all.length,
            dropped,
            depth_goals: depthGoals,
            harmful,
            depth_count: depthCount,
          };
        },
      });
      if (harvest.stop) break go;

      // ---- helpful: pairs mixed into training, and held-out ones for retention ----
      const helpfulKey = { helpful: config.helpful, seed: config.seed, engine, base: config.base };
      const helpful = await stages.run({
        name: 'helpful',
        key: helpfulKey,
        output: HelpfulOut,
        valid: (out) =>
          (out.train === null || existsSync(out.train)) &&
          (out.run_id === null || store.getRun(out.run_id)?.status === 'complete'),
        run: async () => {
          const h = config.helpful;
          if (h === 'none')
            return {
              source: 'none',
              run_id: null,
              train: null,
              heldout: null,
              train_count: 0,
              heldout_count: 0,
              left_out: {},
            };
          let pairs: HelpfulRecord[];
          let runId: string | null = null;
          let leftOut: Record<string, number> = {};
          let share = 0;
          if (typeof h === 'string' || 'file' in h) {
            pairs = helpfulFromFile(rel(typeof h === 'string' ? h : h.file));
            share = typeof h === 'string' ? 0 : h.heldout;
          } else {
            runId = runIdOf('helpful', helpfulKey);
            const target = { ...(await baseTarget()), max_tokens: h.distill.max_tokens } as TargetSpec;
            await runAgainst(
              ctx,
              runId,
              target,
              { dataset: h.distill.dataset, attacks: ['plain'], judges: ['keyword'] },
              `${config.name ?? loopId} (base) helpful distillation`,
            );
            const got = helpfulFromRun(store, runId);
            pairs = got.pairs;
            leftOut = { cut_at_max_tokens: got.cut, degenerate: got.degenerate, empty: got.empty };
            share = h.heldout;
          }
          const { train, heldout } = splitHelpful(pairs, config.seed, share);
          const trainFile = path.join(workdir, 'helpful.jsonl');
          const heldoutFile = path.join(workdir, 'helpful-heldout.jsonl');
          writeFileAtomic(
            trainFile,
            train.map((p) => JSON.stringify(p)).join('\n') + (train.length ? '\n' : ''),
          );
          writeFileAtomic(
            heldoutFile,
            heldout.map((p) => JSON.stringify(p)).join('\n') + (heldout.length ? '\n' : ''),
          );
          o.log(
            `loop: helpful: ${train.length} pairs to train on, ${heldout.length} held out for retention` +
              (runId ? ` (left out: ${JSON.stringify(leftOut)})` : ''),
          );
          return {
            source: runId ? 'distill' : 'file',
            run_id: runId,
            train: train.length ? trainFile : null,
            heldout: heldout.length ? heldoutFile : null,
            train_count: train.length,
            heldout_count: heldout.length,
            left_out: leftOut,
          };
        },
      });
      if (helpful.stop) break go;
      const heldoutHelpful: HelpfulRecord[] = helpful.output.heldout
        ? readFileSync(helpful.output.heldout, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as HelpfulRecord)
        : [];
      const depthInputs: DepthInputs | null =
        harvest.output.depth_goals && harvest.output.harmful && harvest.output.depth_count > 0
          ? {
              goals: harvest.output.depth_goals,
              harmful: harvest.output.harmful,
              sha: sha256(readFileSync(harvest.output.harmful)),
            }
          : null;

      const ablation: AblationRow[] = [];
      const armResults: ArmResult[] = [];
      for (const arm of arms) {
        const out = await runArm(arm);
        if (out.row) ablation.push(out.row);
        armResults.push(out.result);
        if (out.stop) break go;
      }
      if (config.variants) {
        result.variants = armResults;
        const file = path.join(workdir, 'ablation.json');
        writeFileAtomic(
          file,
          JSON.stringify({ loop_id: loopId, name: config.name ?? null, rows: ablation }, null, 2),
        );
        writeFileAtomic(
          path.join(workdir, 'ablation.html'),
          renderAblation(loopId, config.name ?? null, ablation),
        );
        writeFileAtomic(
          path.join(workdir, 'ablation.md'),
          renderAblationMarkdown(loopId, config.name ?? null, ablation),
        );
        // The two curves as image files too (docs embed them).
        writeFileAtomic(path.join(workdir, 'ablation-depth.svg'), standaloneSvg(ablationDepthSvg(ablation)));
        writeFileAtomic(
          path.join(workdir, 'ablation-transition.svg'),
          standaloneSvg(ablationTransitionSvg(ablation)),
        );
        result.ablation = file;
      }

      // ---- one variant: build, train, serve, re-attack, compare ----
      async function runArm(
        arm: Arm | null,
      ): Promise<{ stop: boolean; result: ArmResult; row: AblationRow | null }> {
        const p = armPrefix(arm);
        const armDir = arm ? path.join(workdir, 'variants', arm.name) : workdir;
        mkdirSync(armDir, { recursive: true });
        const armResult: ArmResult = {
          variant: arm?.name ?? config.build.variant,
          after_run: null,
          report: null,
          comparison: null,
          collapsed: null,
        };
        const stopped = { stop: true, result: armResult, row: null };
        const objective = arm?.objective ?? config.train.objective;
        const variant = arm?.variant ?? config.build.variant;
        const reset = resetToken(arm);

        const dataOut = path.join(armDir, 'data');
        const safetyRows = harvest.output.count;
        const helpSize = helpful.output.train
          ? Math.ceil(
              (typeof config.helpful === 'object' && 'ratio' in config.helpful
                ? config.helpful.ratio
                : Infinity) * (arm ? safetyRows : safetyRows * 2),
            )
          : 0;
        const sizes = {
          ...(arm ? arm.budget(safetyRows) : (config.build.sizes ?? {})),
          ...(helpful.output.train ? { help: Number.isFinite(helpSize) ? helpSize : ('all' as const) } : {}),
        };
        const buildKey = {
          harvest: harvest.output,
          triples_sha: sha256(readFileSync(harvest.output.triples)),
          helpful: helpful.output,
          build: config.build,
          variant,
          sizes,
          block: config.train.hyper.block_size ?? null,
          preset: config.train.preset,
          trainer: config.trainer,
        };
        const builtData = (): boolean =>
          external
            ? existsSync(path.join(dataOut, 'axolotl.yaml'))
            : existsSync(path.join(dataOut, 'train.jsonl')) ||
              existsSync(path.join(dataOut, 'train.parquet'));
        const build = await stages.run({
          name: `${p}build`,
          key: buildKey,
          output: BuildOut,
          valid: builtData,
          run: async () => {
            const format = external ? 'axolotl' : config.build.format;
            if (format !== 'axolotl' && format !== 'jsonl' && format !== 'parquet') {
              throw new InputError(`the trainer reads jsonl or parquet, not ${format}`, {
                field: 'build.format',
              });
            }
            const res = buildDertaDataset(
              buildOptions(
                {
                  ...config.build,
                  variant,
                  sizes,
                  ...(reset ? { reset_token: reset } : {}),
                  triples: harvest.output.triples,
                  ...(helpful.output.train ? { helpful: helpful.output.train } : {}),
                  format,
                  ...(external ? { axolotl: { base_model: baseModel, preset: config.train.preset } } : {}),
                },
                o.baseDir,
                {
                  tokenizer: baseModel,
                  blockSize: trainHyper(config.train).block_size,
                  epochs: Math.ceil(trainHyper(config.train).epochs),
                  out: dataOut,
                },
              ),
            );
            const counts = res.stats['counts'] ?? null;
            o.log(`loop: ${p}build: ${JSON.stringify(counts)} → ${dataOut}`);
            return { data: dataOut, counts };
          },
        });
        if (build.stop) return stopped;

        const trainKey = { build: build.output, train: config.train, objective, base: baseModel };
        // One folder per training input: an interrupted run resumes from its own checkpoints.
        const modelDir = path.join(armDir, `model-${sha256(canonicalJson(trainKey)).slice(0, 10)}`);
        const train = await stages.run({
          name: `${p}train`,
          key: { ...trainKey, trainer: config.trainer },
          output: TrainOut,
          valid: (out) => existsSync(String(out.model_dir ?? out.axolotl_config)),
          run: async () => {
            if (external) {
              const cfg = path.join(dataOut, 'axolotl.yaml');
              return { external: 'axolotl', axolotl_config: cfg, command: `axolotl train ${cfg}` };
            }
            const tc = trainConfig(config, baseModel, modelDir, { data: build.output.data }, objective);
            const losses: number[] = [];
            const bar = stepBar(o.progress);
            const { done, last } = await trainModel(tc, o.baseDir, {
              onEvent: (e: TrainerEvent) => {
                bar(e);
                if (e.event === 'step' && typeof e['loss'] === 'number') losses.push(e['loss']);
              },
            });
            const converged = convergence(losses);
            const first = losses[0] ?? null;
            const lastLoss = typeof last?.['loss'] === 'number' ? last['loss'] : null;
            o.log(
              `loop: ${p}train: ${Number(done['step'])} steps, loss ${first?.toFixed(3) ?? '?'} → ` +
                `${lastLoss?.toFixed(3) ?? '?'}` +
                (converged === false
                  ? ' — still falling at the end: not converged (more epochs or a higher learning rate?)'
                  : ''),
            );
            return {
              model_dir: modelDir,
              adapter: done['adapter'] === true,
              steps: Number(done['step'] ?? 0),
              first_loss: first,
              last_loss: lastLoss,
              converged,
              tokens: done['tokens'] ?? null,
            };
          },
        });
        if (train.stop) return stopped;
        if (external && !config.serve.target) {
          result.next =
            `train with \`${train.output.command ?? ''}\`, serve the result (e.g. vllm serve), set serve.target ` +
            'in the loop config to that endpoint, and run the loop again';
          return stopped;
        }

        const serveStage = await stages.run({
          name: `${p}serve`,
          key: { train: train.output, serve: config.serve, engine },
          output: ServeOut,
          valid: (out) => !out.adapter_gguf || existsSync(out.adapter_gguf),
          run: async () => serveRecord(train.output, armDir),
        });
        if (serveStage.stop) return stopped;
        let trainedServed: Promise<TargetSpec> | undefined;
        const trainedTarget = (): Promise<TargetSpec> =>
          (trainedServed ??= config.serve.target
            ? Promise.resolve(targetSpec(config.serve.target, 'trained', config))
            : serve('trained', {
                hf: train.output.model_dir as string,
                ...(train.output.adapter ? { adapterOf: baseModel } : {}),
                ...(serveStage.output.adapter_gguf ? { lora: serveStage.output.adapter_gguf } : {}),
                ...(reset ? { resetToken: reset } : {}),
              }));

        const reattackKey = {
          attack: attackKey,
          train: train.output,
          serve: config.serve,
          arm: arm?.name ?? null,
        };
        const afterRun = runIdOf('after', reattackKey);
        const reattack = await stages.run({
          name: `${p}reattack`,
          key: reattackKey,
          output: AttackOut,
          valid: runsComplete,
          run: async () =>
            attackStage(afterRun, await trainedTarget(), arm ? `trained: ${arm.name}` : 'trained'),
        });
        armResult.after_run = afterRun;
        if (!arm) result.after_run = afterRun;
        if (reattack.stop) return stopped;

        const reportFile = path.join(armDir, 'report.html');
        const comparisonFile = path.join(armDir, 'comparison.json');
        const compare = await stages.run({
          name: `${p}compare`,
          key: {
            before: attack.output,
            after: reattack.output,
            judge: failureJudge,
            transition: config.transition ?? null,
            depth: config.depth ?? null,
            depth_sha: depthInputs?.sha ?? null,
            health: config.health,
            helpful: helpful.output,
            holdout: [...holdout].sort(),
          },
          output: CompareOut,
          valid: (out) => existsSync(out.report) && existsSync(out.comparison),
          run: async () => {
            const base = await baseTarget();
            const trained = await trainedTarget();
            const inputs = { depth: depthInputs, heldout: heldoutHelpful, baseModel };
            const before = await measureSide(ctx, 'base', beforeRun, base, inputs);
            const after = await measureSide(
              ctx,
              arm ? `trained: ${arm.name}` : 'trained',
              afterRun,
              trained,
              inputs,
            );
            const transition =
              config.transition && depthInputs
                ? await probeTransition(base, trained, afterRun, depthInputs)
                : null;
            const splits: Record<Split, ReadonlySet<string> | undefined> = {
              all: undefined,
              trained: trainIds,
              heldout: holdout,
            };
            const comparison = compareSides(store, before, after, {
              judge: failureJudge,
              splits,
              transition: transition && {
                records: transition.records,
                refusal: transition.refusal_tokens,
                before: 'base',
                after: 'trained',
              },
              thresholds: config.health.collapse,
              seed: config.seed,
            });
            const evaluations = config.evaluations.map((e) => ({
              name: e.name,
              rows: pairedScores(
                store,
                attack.output.evaluations[e.name] as string,
                reattack.output.evaluations[e.name] as string,
                config.seed,
              ),
            }));
            const report: LoopReport = {
              loop_id: loopId,
              name: config.name ?? null,
              variant: arm ? { name: arm.name, title: arm.title } : null,
              generated_at: new Date().toISOString(),
              // The compare stage itself is done once this file exists.
              stages: stages.entries.map((s) => ({
                name: s.name,
                status: s.name === `${p}compare` ? 'done' : statusOf(store, loopId, s.name),
              })),
              before_run: beforeRun,
              after_run: afterRun,
              runs: { before, after },
              harvest: harvest.output,
              helpful: helpful.output,
              train: train.output,
              ...comparison,
              evaluations,
              transition_curves: transition && {
                curves: transition.curves,
                difference: transition.difference,
                refusal_tokens: transition.refusal_tokens,
              },
            };
            writeFileAtomic(comparisonFile, JSON.stringify(report, null, 2));
            writeFileAtomic(reportFile, renderLoopReport(report));
            const pooled = comparison.paired.all?.attacks.rows.at(-1);
            if (comparison.collapsed) {
              o.log(
                `loop: ${p}compare: COLLAPSED — the ASR change is not a safety gain:\n` +
                  comparison.collapse_reasons.map((r) => `  - ${r}`).join('\n'),
              );
            }
            return {
              report: reportFile,
              comparison: comparisonFile,
              asr_before: pooled?.asr_a ?? null,
              asr_after: pooled?.asr_b ?? null,
              collapsed: comparison.collapsed,
              transition_run: transition?.run_id ?? null,
            };
          },
        });
        armResult.report = compare.output.report;
        armResult.comparison = compare.output.comparison;
        armResult.collapsed = compare.output.collapsed;
        if (!arm) {
          result.report = compare.output.report;
          result.collapsed = compare.output.collapsed;
        }
        await stopTrained(trainedServed);
        const row = ablationRow(arm, compare.output.comparison, train.output);
        return { stop: compare.stop, result: armResult, row };
      }
    }
  } catch (err) {
    result.error = err instanceof Error ? err : new Error(String(err));
  }
  try {
    return result;
  } finally {
    await models.close();
    await Promise.all(servers.map((s) => s.close()));
    store.close();
  }

  /** What the serve stage records: how to serve the result at scale, and the GGUF adapter llama.cpp loads. */
  async function serveRecord(t: TrainOut, armDir: string): Promise<z.infer<typeof ServeOut>> {
    if (t.model_dir === undefined) return { engine: 'external', adapter_gguf: null, vllm_command: null };
    const vllm = t.adapter
      ? `vllm serve ${baseModel} --enable-lora --lora-modules trained=${t.model_dir} --max-lora-rank ${trainHyper(config.train).lora_r}`
      : `vllm serve ${t.model_dir} --served-model-name trained`;
    o.log(`loop: serve: on a GPU, serve it with: ${vllm}`);
    if (config.serve.target) return { engine: 'external', adapter_gguf: null, vllm_command: vllm };
    if (engine === 'llamacpp') {
      if (!t.adapter)
        throw new InputError('engine llamacpp serves LoRA adapters: use train.preset lora', {
          field: 'engine',
        });
      const gguf = convertLoraToGguf({
        python,
        setup: llama,
        adapter: t.model_dir,
        baseModel,
        out: path.join(armDir, 'adapter.gguf'),
      });
      o.log(`loop: serve: adapter converted for llama.cpp → ${gguf}`);
      return { engine: 'llamacpp', adapter_gguf: gguf, vllm_command: vllm };
    }
    return { engine: 'refusenik-serve', adapter_gguf: null, vllm_command: vllm };
  }

  async function stopTrained(served: Promise<TargetSpec> | undefined): Promise<void> {
    if (!served || config.serve.target) return;
    const spec = await served;
    const i = servers.findIndex((s) => spec.base_url === s.url);
    if (i >= 0) {
      const [s] = servers.splice(i, 1);
      await s?.close();
    }
  }

  async function probeTransition(
    base: TargetSpec,
    trained: TargetSpec,
    afterRun: string,
    depthInputs: DepthInputs,
  ): Promise<TransitionResult> {
    const { runTransition } = await import('../analysis/transition-run.js');
    const t = config.transition as NonNullable<LoopConfig['transition']>;
    const probeModels = new ModelResolver({
      named: { base: completionsOnly(base), trained: completionsOnly(trained) },
    });
    try {
      return await runTransition(
        {
          probe: {
            tokenizer: t.tokenizer ? rel(t.tokenizer) : baseModel,
            source: depthInputs.harmful,
            k: t.k,
          },
          dataset: { path: depthInputs.goals },
          targets: ['base', 'trained'],
          refusal: t.refusal_tokens,
          top: t.top,
          concurrency: 2,
          seed: config.seed,
          tag: afterRun,
        },
        probeModels,
        o.db,
        true,
      );
    } finally {
      await probeModels.close();
    }
  }

  function ablationRow(arm: Arm | null, file: string, t: TrainOut): AblationRow | null {
    if (!arm) return null;
    const c = JSON.parse(readFileSync(file, 'utf8')) as Comparison;
    return {
      variant: arm.name,
      title: arm.title,
      comparison: path.relative(workdir, file),
      asr: c.asr,
      transition: c.transition,
      over_refusal: c.over_refusal,
      mmlu: c.mmlu,
      retention: c.retention,
      degeneration: { before: c.degeneration.before, after: c.degeneration.after, n: c.degeneration.n },
      collapsed: c.collapsed,
      collapse_reasons: c.collapse_reasons,
      train: { steps: t.steps ?? null, first_loss: t.first_loss ?? null, last_loss: t.last_loss ?? null },
    };
  }
}

/** Whether training converged: the loss of the last fifth of the logged steps no longer falls by 10%. */
export function convergence(losses: readonly number[]): boolean | null {
  if (losses.length < 10) return null;
  const fifth = Math.max(2, Math.floor(losses.length / 5));
  const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const lastPart = mean(losses.slice(-fifth));
  const before = mean(losses.slice(-2 * fifth, -fifth));
  return lastPart > before * 0.9;
}

function statusOf(store: RunStore, loopId: string, name: string): string {
  return store.loopStages(loopId).find((s) => s.name === name)?.status ?? 'pending';
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
  objective: 'mle' | 'constrained' = config.train.objective,
): TrainConfig {
  return parseWith(
    TrainConfig,
    { ...config.train, objective, model: baseModel, output_dir: outputDir, ...data },
    ['train'],
  );
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

export type { ArmName, SideRuns };
