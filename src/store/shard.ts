import { InputError } from '../errors.js';
import type { RunRecord } from './store.js';

/**
 * Runs sharded across machines (issue 24 item 3): `run cfg.yaml --shard i/n` runs the cases whose case id
 * falls in share i of n. A case id is a hash of what the case is (behavior, attack variant, target, sample),
 * so the split is deterministic and independent of the dataset's order, of the other shards and of the
 * machine: every shard computes the same plan, the same run id, and takes its own cases. Each shard writes
 * its own store; `refusenik runs merge` combines them into one run (store/merge.ts). What a shard is and how a
 * stored run records it live here (light: `runs show` and `runs merge` load it); restricting a plan to a shard
 * is runner/shard.ts.
 */

export interface Shard {
  /** 0-based: 0 ≤ index < count. */
  index: number;
  count: number;
}

/** What a shard's run records (in its versions, under `shard`): which share, and how many cases it holds. */
export interface ShardInfo extends Shard {
  /** Cases of the plan in this shard. */
  cases: number;
  /** Cases of the whole plan (every shard). */
  plan_cases: number;
}

const SHARD = /^(\d+)\/(\d+)$/;

/** Parses `i/n` (0 ≤ i < n); the error names the flag and what it wants. */
export function parseShard(text: string, flag = '--shard'): Shard {
  const m = SHARD.exec(text.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || !Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index >= count) {
    throw new InputError(
      `${flag} wants i/n with 0 <= i < n (e.g. 0/4 for the first of four shards), got '${text}'`,
    );
  }
  return { index, count };
}

/** Whether a case belongs to a shard: its id's first 32 bits modulo the shard count. */
export function inShard(id: string, shard: Shard): boolean {
  if (shard.count === 1) return true;
  return parseInt(id.slice(0, 8), 16) % shard.count === shard.index;
}

/** `i/n` as written. */
export function shardLabel(shard: Shard): string {
  return `${shard.index}/${shard.count}`;
}

/** The shard a stored run is (from its versions); undefined for a whole run (or a merged one). */
export function shardOf(run: Pick<RunRecord, 'versions'>): ShardInfo | undefined {
  const s = run.versions['shard'];
  if (!s || typeof s !== 'object') return undefined;
  const { index, count, cases, plan_cases } = s as Record<string, unknown>;
  if (![index, count, cases, plan_cases].every((v) => typeof v === 'number' && Number.isSafeInteger(v)))
    return undefined;
  return {
    index: index as number,
    count: count as number,
    cases: cases as number,
    plan_cases: plan_cases as number,
  };
}
