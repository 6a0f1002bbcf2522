import { parseWith, type ConfigSource } from '../config/validate.js';
import { RunConfig, type TargetSpec } from '../config/schema.js';
import { chatFramer } from '../text/chat-template.js';
import { loadTokenizer } from '../text/tokenizer.js';
import { RuntimeFailure } from '../errors.js';
import { runVersions } from '../runner/versions.js';
import { executeConfig } from '../runner/session.js';
import { withStoredRun } from '../runner/stored-run.js';
import type { RunStore } from '../store/store.js';
import { ModelResolver } from '../runner/resolve.js';
import { canonicalJson, sha256 } from '../util/hash.js';
import type { LoopConfig } from './config.js';
import { retentionNll, type Retention } from './health.js';
import type { HelpfulRecord } from './helpful.js';

/**
 * Measuring one side of a loop (the base model before, a trained one after): the attacks, the depth probe,
 * over-refusal and MMLU as stored runs (resumable case by case, every call through the model-call service),
 * retention as a probe run of its own. Run ids carry everything a run was made from, so the base side is
 * measured once however many variants are compared against it.
 */

export interface RunContext {
  store: RunStore;
  config: LoopConfig;
  db: string;
  dataDir: string;
  baseDir: string;
  configFile: string;
  source: ConfigSource;
  progress: boolean;
  signal: AbortSignal;
  log: (line: string) => void;
}

type RunWhat = Pick<RunConfig, 'dataset' | 'attacks' | 'judges'>;

/** One stored run of `what` against `target`; it must end complete. Returns the cases done. */
export async function runAgainst(
  ctx: RunContext,
  runId: string,
  target: TargetSpec,
  what: RunWhat,
  name: string,
): Promise<number> {
  const runConfig = parseWith(
    RunConfig,
    {
      name,
      seed: ctx.config.seed,
      dataset: what.dataset,
      attacks: what.attacks,
      targets: [target],
      judges: what.judges,
      ...(ctx.config.models ? { models: ctx.config.models } : {}),
    },
    [],
    ctx.source,
  );
  return executeConfig(
    {
      store: ctx.store,
      config: runConfig,
      context: {
        dataDir: ctx.dataDir,
        baseDir: ctx.baseDir,
        source: ctx.source,
        env: process.env,
        dryRun: false,
        useCache: true,
      },
      name,
      configFile: ctx.configFile,
      progress: ctx.progress,
      signal: ctx.signal,
      prepare: () => runId,
    },
    ({ result }) => {
      const status = result?.status;
      if (status !== 'complete') {
        throw new RuntimeFailure(`run ${runId} ended ${status}; run the loop again to resume it`);
      }
      return ctx.store.counts(runId).ok;
    },
  );
}

/** What the depth probe reads: the goals that have a harmful answer, and those answers. */
export interface DepthInputs {
  goals: string;
  harmful: string;
  /** A hash of both files: the depth runs' ids change with them. */
  sha: string;
}

export interface SideRuns {
  main: string;
  depth: string | null;
  over_refusal: string | null;
  mmlu: string | null;
  retention: Retention | null;
}

/** Every health and depth measurement of one side, keyed off its main run's id. */
export async function measureSide(
  ctx: RunContext,
  label: string,
  main: string,
  target: TargetSpec,
  inputs: { depth: DepthInputs | null; heldout: readonly HelpfulRecord[]; baseModel: string },
): Promise<SideRuns> {
  const c = ctx.config;
  const out: SideRuns = { main, depth: null, over_refusal: null, mmlu: null, retention: null };
  if (c.depth && inputs.depth) {
    const what = {
      dataset: { path: inputs.depth.goals },
      attacks: [
        {
          prefill: {
            tokenizer: inputs.baseModel,
            source: inputs.depth.harmful,
            k: c.depth.k,
            delivery: c.depth.delivery,
          },
        },
      ],
      judges: c.judges,
    };
    out.depth = `${main}-depth-${sha256(canonicalJson({ sha: inputs.depth.sha, what, max: c.depth.max_tokens ?? null })).slice(0, 8)}`;
    ctx.log(`loop: ${label}: depth probe (prefill k = ${c.depth.k.join(', ')})`);
    const t = c.depth.max_tokens ? { ...target, max_tokens: c.depth.max_tokens } : target;
    await runAgainst(ctx, out.depth, t as TargetSpec, what, `${label} depth`);
  }
  const over = c.health.over_refusal;
  if (over !== false) {
    out.over_refusal = `${main}-over-refusal-${sha256(canonicalJson(over)).slice(0, 8)}`;
    ctx.log(`loop: ${label}: over-refusal`);
    const t = over.max_tokens ? { ...target, max_tokens: over.max_tokens } : target;
    await runAgainst(
      ctx,
      out.over_refusal,
      t as TargetSpec,
      { dataset: over.dataset, attacks: ['plain'], judges: ['keyword'] },
      `${label} over-refusal`,
    );
  }
  const mmlu = c.health.mmlu;
  if (mmlu !== false) {
    out.mmlu = `${main}-mmlu-${sha256(canonicalJson(mmlu)).slice(0, 8)}`;
    ctx.log(`loop: ${label}: MMLU`);
    await runAgainst(
      ctx,
      out.mmlu,
      { ...target, max_tokens: mmlu.max_tokens } as TargetSpec,
      { dataset: mmlu.dataset, attacks: [{ helpfulness: { task: 'mmlu' } }], judges: ['mmlu'] },
      `${label} mmlu`,
    );
  }
  if (c.health.retention && inputs.heldout.length) {
    ctx.log(`loop: ${label}: retention (${inputs.heldout.length} held-out helpful answers)`);
    out.retention = await probeRetention(ctx, `${main}-retention`, target, inputs.heldout, inputs.baseModel);
  }
  return out;
}

/** The retention probe through the model-call service, bound to a run row of its own (cached, logged). */
async function probeRetention(
  ctx: RunContext,
  runId: string,
  target: TargetSpec,
  pairs: readonly HelpfulRecord[],
  baseModel: string,
): Promise<Retention> {
  const tok = loadTokenizer(baseModel);
  const frame = chatFramer(tok);
  const config = { retention: { pairs: sha256(canonicalJson(pairs)), tokenizer: baseModel } };
  return withStoredRun(ctx.store, runId, ctx.signal, async (run) => {
    run.open({
      name: `retention ${target.label ?? target.id}`,
      config,
      configFile: ctx.configFile,
      versions: runVersions(sha256(canonicalJson(pairs))),
      casesTotal: pairs.length,
    });
    const { temperature: _t, max_tokens: _m, ...spec } = target as TargetSpec & Record<string, unknown>;
    const models = new ModelResolver({ named: { model: spec as TargetSpec } });
    models.calls.bind(ctx.store, runId, true);
    try {
      const { result } = await run.execute(
        () =>
          retentionNll(models.resolve('model', 'retention', 'target', 'retention'), pairs, frame, tok, {
            concurrency: 2,
            signal: run.signal,
          }),
        (r) => (r.errors ? 'incomplete' : 'complete'),
      );
      return result;
    } finally {
      await models.close();
    }
  });
}
