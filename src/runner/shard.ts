import { InputError } from '../errors.js';
import type { RunRecord } from '../store/store.js';
import { shardLabel, shardOf, type Shard, type ShardInfo } from '../store/shard.js';
import type { RunPlan } from './plan.js';

/**
 * A plan run as one shard of several (`run --shard i/n`); store/shard.ts says what a shard is and how a stored
 * run records it.
 */

/** runner/plan.ts's `casesFor`, passed in (this module stays light). */
type CasesFor = typeof import('./plan.js').casesFor;

/**
 * Restricts a plan to one shard: its cases (`casesFor` skips the others) and its case count. The plan's
 * whole count stays in `planCases`.
 */
export function applyShard(plan: RunPlan, shard: Shard, casesFor: CasesFor): void {
  plan.planCases ??= plan.casesTotal;
  plan.shard = shard;
  let cases = 0;
  for (const target of plan.targets) for (const _ of casesFor(plan, target)) cases++;
  plan.casesTotal = cases;
}

/** The shard a plan runs, as its run records it. */
export function shardInfo(plan: RunPlan): ShardInfo | undefined {
  if (!plan.shard) return undefined;
  return { ...plan.shard, cases: plan.casesTotal, plan_cases: plan.planCases ?? plan.casesTotal };
}

/**
 * A stored run continues only as the shard it was started as: another shard's cases (or the whole plan's) in
 * the same store would make it neither shard. Throws an error naming both and what to do instead.
 */
export function assertSameShard(
  run: Pick<RunRecord, 'id' | 'versions'>,
  plan: Pick<RunPlan, 'shard'>,
  file: string,
): void {
  const stored = shardOf(run);
  const want = plan.shard;
  if (stored === undefined && want === undefined) return;
  if (stored && want && stored.index === want.index && stored.count === want.count) return;
  const what = (s: Shard | undefined): string =>
    s ? `shard ${shardLabel(s)}` : 'the whole run (no --shard)';
  throw new InputError(
    `this store holds ${what(stored)} of run ${run.id}; this command runs ${what(want)}: give each shard its ` +
      'own --db, and combine them with: refusenik runs merge <stores...> --db <out>',
    { file },
  );
}
