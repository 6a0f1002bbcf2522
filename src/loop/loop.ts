import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sha256 } from '../util/hash.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { runArm, type ArmResult, type Shared } from './arm.js';
import type { LoopConfig } from './config.js';
import { closeLoop, openLoop, type LoopContext, type LoopOptions } from './context.js';
import type { HelpfulRecord } from './helpful.js';
import {
  ablationDepthSvg,
  ablationTransitionSvg,
  renderAblation,
  renderAblationMarkdown,
  standaloneSvg,
  type AblationRow,
} from './report.js';
import type { StageEntry } from './stage-runner.js';
import { attackStage } from './stages/attack.js';
import { harvestStage } from './stages/harvest.js';
import { helpfulStage } from './stages/helpful.js';

/**
 * `refusenik loop`: attack → harvest → helpful → build → train → serve → re-attack → compare, each stage a
 * typed unit in stages/ recorded in the run store with a key made from everything it was built from
 * (stage-runner.ts). A re-run keeps every stage whose key and outputs are unchanged, so a loop killed between
 * (or during) stages resumes where it stopped, and a changed section redoes that stage and the ones after it.
 * With `variants`, the stages from build on run once per training variant (arm.ts: the ablation), all against
 * the same attacked base and harvest.
 */

export { ARM_STAGES, SHARED_STAGES, STAGES, type LoopOptions, type StageName } from './context.js';
export { convergence } from './stages/train.js';
export type { ArmResult } from './arm.js';
export type { ArmName } from './arms.js';
export type { SideRuns } from './measure.js';

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

export async function runLoop(config: LoopConfig, o: LoopOptions): Promise<LoopResult> {
  const c = openLoop(config, o);
  const result: LoopResult = {
    loop_id: c.loopId,
    stages: c.stages.entries,
    before_run: null,
    after_run: null,
    workdir: c.workdir,
    report: null,
    collapsed: null,
  };
  try {
    await drive(c, result);
  } catch (err) {
    result.error = err instanceof Error ? err : new Error(String(err));
  } finally {
    await closeLoop(c);
  }
  return result;
}

async function drive(c: LoopContext, result: LoopResult): Promise<void> {
  const attack = await c.stages.stage(attackStage, c, undefined);
  result.before_run = c.beforeRun;
  if (attack.stop) return;
  const harvest = await c.stages.stage(harvestStage, c, { attack: attack.output });
  if (harvest.stop) return;
  const helpful = await c.stages.stage(helpfulStage, c, undefined);
  if (helpful.stop) return;

  const h = harvest.output;
  const shared: Shared = {
    attack: attack.output,
    harvest: h,
    helpful: helpful.output,
    depth:
      h.depth_goals && h.harmful && h.depth_count > 0
        ? { goals: h.depth_goals, harmful: h.harmful, sha: sha256(readFileSync(h.harmful)) }
        : null,
    heldoutHelpful: helpful.output.heldout ? readJsonl<HelpfulRecord>(helpful.output.heldout) : [],
  };
  const rows: AblationRow[] = [];
  const armResults: ArmResult[] = [];
  if (c.config.variants) result.variants = armResults;
  for (const arm of c.arms) {
    const armResult: ArmResult = {
      variant: arm?.name ?? c.config.build.variant,
      after_run: null,
      report: null,
      comparison: null,
      collapsed: null,
    };
    armResults.push(armResult);
    try {
      const run = await runArm(c, arm, shared, armResult);
      if (run.row) rows.push(run.row);
      if (run.next) result.next = run.next;
      if (run.stop) return;
    } finally {
      if (!arm) {
        result.after_run = armResult.after_run;
        result.report = armResult.report;
        result.collapsed = armResult.collapsed;
      }
    }
  }
  if (c.config.variants) result.ablation = writeAblation(c, rows);
}

/** The ablation's files: its rows as JSON, HTML and Markdown, and its two curves as images (docs embed them). */
function writeAblation(c: LoopContext, rows: readonly AblationRow[]): string {
  const name = c.config.name ?? null;
  const at = (f: string): string => path.join(c.workdir, f);
  writeFileAtomic(at('ablation.json'), JSON.stringify({ loop_id: c.loopId, name, rows }, null, 2));
  writeFileAtomic(at('ablation.html'), renderAblation(c.loopId, name, rows));
  writeFileAtomic(at('ablation.md'), renderAblationMarkdown(c.loopId, name, rows));
  writeFileAtomic(at('ablation-depth.svg'), standaloneSvg(ablationDepthSvg(rows)));
  writeFileAtomic(at('ablation-transition.svg'), standaloneSvg(ablationTransitionSvg(rows)));
  return at('ablation.json');
}

function readJsonl<T>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}
