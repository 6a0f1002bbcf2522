import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Arm } from './arms.js';
import type { Comparison } from './compare.js';
import { armSetup, type LoopContext } from './context.js';
import type { HelpfulRecord } from './helpful.js';
import type { DepthInputs } from './measure.js';
import type { AblationRow } from './report.js';
import type { AttackOut } from './stages/attack.js';
import { buildStage } from './stages/build.js';
import { compareStage } from './stages/compare.js';
import type { HarvestOut } from './stages/harvest.js';
import type { HelpfulOut } from './stages/helpful.js';
import { reattackStage } from './stages/reattack.js';
import { serveStage } from './stages/serve.js';
import { trainStage, type TrainOut } from './stages/train.js';

/** One training variant through build → train → serve → re-attack → compare, against the shared stages. */

export interface ArmResult {
  variant: string;
  after_run: string | null;
  report: string | null;
  comparison: string | null;
  collapsed: boolean | null;
}

/** What the shared stages gave every arm. */
export interface Shared {
  attack: AttackOut;
  harvest: HarvestOut;
  helpful: HelpfulOut;
  depth: DepthInputs | null;
  heldoutHelpful: readonly HelpfulRecord[];
}

export interface ArmRun {
  /** Stop the loop here (`--until`, or an external trainer to run first). */
  stop: boolean;
  result: ArmResult;
  row: AblationRow | null;
  /** What the user must do before the loop can go on. */
  next?: string;
}

/** Runs one arm; `result` is filled in as its stages finish (the caller keeps it if a stage throws). */
export async function runArm(
  c: LoopContext,
  arm: Arm | null,
  shared: Shared,
  result: ArmResult,
): Promise<ArmRun> {
  const setup = armSetup(c, arm);
  const { stages, config } = c;
  const p = setup.prefix;
  const stopped = { stop: true, result, row: null };

  const build = await stages.stage(buildStage, c, { setup, ...shared }, p);
  if (build.stop) return stopped;
  const train = await stages.stage(trainStage, c, { setup, build: build.output }, p);
  if (train.stop) return stopped;
  if (c.external && !config.serve.target) {
    return {
      ...stopped,
      next:
        `train with \`${train.output.command ?? ''}\`, serve the result (e.g. vllm serve), set serve.target ` +
        'in the loop config to that endpoint, and run the loop again',
    };
  }
  const serve = await stages.stage(serveStage, c, { setup, train: train.output }, p);
  if (serve.stop) return stopped;

  const trained = c.serving.trained({
    hf: train.output.model_dir as string,
    ...(train.output.adapter ? { adapterOf: c.baseModel } : {}),
    ...(serve.output.adapter_gguf ? { lora: serve.output.adapter_gguf } : {}),
    ...(setup.reset ? { resetToken: setup.reset } : {}),
  });
  try {
    const reattackIn = { setup, train: train.output, trained: trained.target };
    const reattack = await stages.stage(reattackStage, c, reattackIn, p);
    result.after_run = reattack.output.run_id;
    if (reattack.stop) return stopped;
    const compare = await stages.stage(
      compareStage,
      c,
      { ...shared, setup, reattack: reattack.output, train: train.output, trained: trained.target },
      p,
    );
    result.report = compare.output.report;
    result.comparison = compare.output.comparison;
    result.collapsed = compare.output.collapsed;
    return {
      stop: compare.stop,
      result,
      row: arm && ablationRow(c, arm, compare.output.comparison, train.output),
    };
  } finally {
    await trained.stop();
  }
}

function ablationRow(c: LoopContext, arm: Arm, file: string, t: TrainOut): AblationRow {
  const cmp = JSON.parse(readFileSync(file, 'utf8')) as Comparison;
  return {
    variant: arm.name,
    title: arm.title,
    comparison: path.relative(c.workdir, file),
    asr: cmp.asr,
    transition: cmp.transition,
    over_refusal: cmp.over_refusal,
    mmlu: cmp.mmlu,
    retention: cmp.retention,
    degeneration: { before: cmp.degeneration.before, after: cmp.degeneration.after, n: cmp.degeneration.n },
    collapsed: cmp.collapsed,
    collapse_reasons: cmp.collapse_reasons,
    train: { steps: t.steps ?? null, first_loss: t.first_loss ?? null, last_loss: t.last_loss ?? null },
  };
}
