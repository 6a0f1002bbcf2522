import type { CaseSearchCost, RunStore } from '../store/store.js';
import type { AsrRow } from './asr.js';

/**
 * What a success cost, beside the ASR: per target x attack variant (and judge, whose successes divide), the
 * target queries its cases made and the USD of all their model calls (attacker, target and judge roles, the
 * run's final verdicts included), each divided by the judge's successes. Search attacks count their queries in
 * their trace's summary (`queries.target`; AutoDAN's fitness and answer queries), so a resumed search that
 * replayed its calls from the cache is not counted twice; a single-turn case is one query.
 */

export interface SearchCostFields {
  /** Target queries of the group's cases (errors included: they were sent). */
  queries: number;
  /** `queries / successes`; null without a success (TAP's "queries per jailbreak"). */
  queries_per_success: number | null;
  /** USD of every model call of the group's cases. */
  cost_usd: number;
  cost_per_success: number | null;
}

/** The target queries a case made, from its trace summary's `queries` (null: a single-turn case, one query). */
export function targetQueries(queriesJson: string | null): number {
  if (queriesJson === null) return 1;
  let q: unknown;
  try {
    q = JSON.parse(queriesJson);
  } catch {
    return 1;
  }
  if (!q || typeof q !== 'object') return 1;
  const o = q as Record<string, unknown>;
  const num = (k: string): number | undefined => (typeof o[k] === 'number' ? o[k] : undefined);
  const target = num('target');
  if (target !== undefined) return target;
  // AutoDAN: every fitness evaluation and every checked answer is a target query.
  const fitness = num('fitness');
  const answers = num('answers');
  if (fitness !== undefined || answers !== undefined) return (fitness ?? 0) + (answers ?? 0);
  return 1;
}

function groupKey(r: Pick<CaseSearchCost, 'target' | 'attack' | 'variant'>): string {
  return `${r.target}\u0000${r.attack}\u0000${r.variant}`;
}

/** Queries and cost per target x attack x variant. */
export function searchCostsByGroup(
  cases: Iterable<CaseSearchCost>,
): Map<string, { queries: number; cost_usd: number }> {
  const out = new Map<string, { queries: number; cost_usd: number }>();
  for (const c of cases) {
    const k = groupKey(c);
    const g = out.get(k) ?? { queries: 0, cost_usd: 0 };
    g.queries += targetQueries(c.queries_json);
    g.cost_usd += c.cost_usd;
    out.set(k, g);
  }
  return out;
}

/** ASR rows with their queries and cost per success. */
export function withSearchCosts<R extends AsrRow>(
  rows: readonly R[],
  groups: ReadonlyMap<string, { queries: number; cost_usd: number }>,
): (R & SearchCostFields)[] {
  return rows.map((r) => {
    const g = groups.get(groupKey(r)) ?? { queries: 0, cost_usd: 0 };
    return {
      ...r,
      queries: g.queries,
      queries_per_success: r.successes ? g.queries / r.successes : null,
      cost_usd: g.cost_usd,
      cost_per_success: r.successes ? g.cost_usd / r.successes : null,
    };
  });
}

/** A run's ASR rows with queries and cost per success (one SQL pass over its cases). */
export function runSearchCosts<R extends AsrRow>(
  store: RunStore,
  runId: string,
  rows: readonly R[],
): (R & SearchCostFields)[] {
  return withSearchCosts(rows, searchCostsByGroup(store.caseSearchCosts(runId)));
}
