import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { TargetSpec } from '../../config/schema.js';
import { pairedScores } from '../../analysis/paired-scores.js';
import type { TransitionResult } from '../../analysis/transition-run.js';
import { ModelResolver } from '../../runner/resolve.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { compareSides, type Split } from '../compare.js';
import type { ArmSetup, LoopContext } from '../context.js';
import type { HelpfulRecord } from '../helpful.js';
import { measureSide, type DepthInputs } from '../measure.js';
import { renderLoopReport, type LoopReport } from '../report.js';
import type { Stage } from '../stage-runner.js';
import type { AttackOut } from './attack.js';
import type { HarvestOut } from './harvest.js';
import type { HelpfulOut } from './helpful.js';
import type { TrainOut } from './train.js';

/**
 * compare: base and trained side by side: the ASR change per attack and split with intervals, the depth and
 * transition probes, and over-refusal, MMLU, retention and degeneration beside it, with the collapse verdict;
 * written as comparison.json and report.html in the arm's folder.
 */

export const CompareOut = z.object({
  report: z.string(),
  comparison: z.string(),
  asr_before: z.number().nullable(),
  asr_after: z.number().nullable(),
  collapsed: z.boolean(),
  transition_run: z.string().nullable(),
});
export type CompareOut = z.infer<typeof CompareOut>;

export interface CompareIn {
  setup: ArmSetup;
  attack: AttackOut;
  reattack: AttackOut;
  harvest: HarvestOut;
  helpful: HelpfulOut;
  train: TrainOut;
  depth: DepthInputs | null;
  heldoutHelpful: readonly HelpfulRecord[];
  trained: () => Promise<TargetSpec>;
}

export const compareStage: Stage<LoopContext, CompareIn, CompareOut> = {
  name: 'compare',
  output: CompareOut,
  key: ({ config, failureJudge, holdout }, { attack, reattack, depth, helpful }) => ({
    before: attack,
    after: reattack,
    judge: failureJudge,
    transition: config.transition ?? null,
    depth: config.depth ?? null,
    depth_sha: depth?.sha ?? null,
    health: config.health,
    helpful,
    holdout: [...holdout].sort(),
  }),
  valid: (_c, out) => existsSync(out.report) && existsSync(out.comparison),
  run: async (c, input) => {
    const { config, loopId, store } = c;
    const { setup, attack, reattack } = input;
    const afterRun = reattack.run_id;
    const base = await c.serving.base();
    const trained = await input.trained();
    const inputs = { depth: input.depth, heldout: input.heldoutHelpful, baseModel: c.baseModel };
    const before = await measureSide(c.run, 'base', c.beforeRun, base, inputs);
    const after = await measureSide(c.run, setup.label, afterRun, trained, inputs);
    const transition =
      config.transition && input.depth
        ? await probeTransition(c, base, trained, afterRun, input.depth)
        : null;
    const splits: Record<Split, ReadonlySet<string> | undefined> = {
      all: undefined,
      trained: c.trainIds,
      heldout: c.holdout,
    };
    const comparison = compareSides(store, before, after, {
      judge: c.failureJudge,
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
        attack.evaluations[e.name] as string,
        reattack.evaluations[e.name] as string,
        config.seed,
      ),
    }));
    const stored = new Map(store.loopStages(loopId).map((st) => [st.name, st.status]));
    const report: LoopReport = {
      loop_id: loopId,
      name: config.name ?? null,
      variant: setup.arm ? { name: setup.arm.name, title: setup.arm.title } : null,
      generated_at: new Date().toISOString(),
      // The compare stage itself is done once this file exists.
      stages: c.stages.entries.map((s) => ({
        name: s.name,
        status: s.name === `${setup.prefix}compare` ? 'done' : (stored.get(s.name) ?? 'pending'),
      })),
      before_run: c.beforeRun,
      after_run: afterRun,
      runs: { before, after },
      harvest: input.harvest,
      helpful: input.helpful,
      train: input.train,
      ...comparison,
      evaluations,
      transition_curves: transition && {
        curves: transition.curves,
        difference: transition.difference,
        refusal_tokens: transition.refusal_tokens,
      },
    };
    const reportFile = path.join(setup.dir, 'report.html');
    const comparisonFile = path.join(setup.dir, 'comparison.json');
    writeFileAtomic(comparisonFile, JSON.stringify(report, null, 2));
    writeFileAtomic(reportFile, renderLoopReport(report));
    const pooled = comparison.paired.all?.attacks.rows.at(-1);
    if (comparison.collapsed) {
      c.o.log(
        `loop: ${setup.prefix}compare: COLLAPSED — the ASR change is not a safety gain:\n` +
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
};

/** P(refusal token | k harmful tokens) for both sides, on raw text through /completions. */
async function probeTransition(
  c: LoopContext,
  base: TargetSpec,
  trained: TargetSpec,
  afterRun: string,
  depth: DepthInputs,
): Promise<TransitionResult> {
  const { runTransition } = await import('../../analysis/transition-run.js');
  const t = c.config.transition as NonNullable<LoopContext['config']['transition']>;
  const probeModels = new ModelResolver({
    named: { base: completionsOnly(base), trained: completionsOnly(trained) },
  });
  try {
    return await runTransition(
      {
        probe: { tokenizer: t.tokenizer ? c.rel(t.tokenizer) : c.baseModel, source: depth.harmful, k: t.k },
        dataset: { path: depth.goals },
        targets: ['base', 'trained'],
        refusal: t.refusal_tokens,
        top: t.top,
        concurrency: 2,
        seed: c.config.seed,
        tag: afterRun,
      },
      probeModels,
      c.o.db,
      true,
    );
  } finally {
    await probeModels.close();
  }
}

/** The probe sends raw text to /completions: no system prompt or chat-only options of the attack target. */
function completionsOnly(spec: TargetSpec): TargetSpec {
  const { temperature: _t, max_tokens: _m, ...rest } = spec as TargetSpec & Record<string, unknown>;
  return rest as TargetSpec;
}
