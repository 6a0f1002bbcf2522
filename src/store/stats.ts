import type Database from 'better-sqlite3';
import { REQUEST_LOG_SQL } from './requests.js';
import type { WriteQueue } from './write-queue.js';

/**
 * The counts a run's tables add up to, aggregated in SQL so no caller reads every row: ASR counts per group
 * and judge, case and verdict totals, the request log per role and model, replicas, error groups, search
 * costs and the USD spent. Each flushes the write queue first. What is computed from these counts (rates,
 * intervals, tests) is src/analysis/'s.
 */

/** Errors of one kind in a run, with one example message. */
export interface ErrorGroup {
  /** `target:<kind>` for failed cases (http, timeout, network, protocol...), `judge:<id>` for failed verdicts. */
  kind: string;
  count: number;
  example: string;
}

/** Target errors of one ASR group (see `asrCounts`). */
export interface AsrGroupCounts {
  target: string;
  attack: string;
  variant: string;
  category: string | null;
  errors: number;
}

/** One judge's verdicts in one ASR group, by outcome (see `asrCounts`). */
export interface AsrJudgeCounts extends Omit<AsrGroupCounts, 'errors'> {
  judge: string;
  n: number;
  successes: number;
  refusals: number;
  score_sum: number;
  score_n: number;
  judge_errors: number;
  inconclusive: number;
  disagreement: number;
}

/** What a set of model calls came to: counts, tokens and cost (a run's request log, or one process's calls). */
export interface CallTally {
  requests: number;
  cached: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
}

/** The request log of a run, per role and model. */
export interface RequestSummaryRow extends CallTally {
  role: string;
  target: string;
}

/** One case's search figures (see `caseSearchCosts`). */
export interface CaseSearchCost {
  target: string;
  attack: string;
  variant: string;
  case_id: string;
  status: 'ok' | 'error';
  /** The trace summary's `queries` object as JSON text, or null. */
  queries_json: string | null;
  cost_usd: number;
}

export class RunStats {
  constructor(
    private readonly db: Database.Database,
    private readonly queue: Pick<WriteQueue, 'flush'>,
  ) {}

  /**
   * The counts behind every ASR table, aggregated in SQL: per group (target x attack x variant, and the
   * category when `byCategory`; `(none)` for cases without one) its target errors, and per group and judge
   * its verdicts by outcome (TOTAL: 0 for none). Both lists are in first-seen order (judges within a case by name).
   */
  asrCounts(runId: string, byCategory: boolean): { groups: AsrGroupCounts[]; judged: AsrJudgeCounts[] } {
    this.queue.flush();
    const cat = byCategory ? "COALESCE(c.category, '(none)')" : 'NULL';
    const groups = this.db
      .prepare<[string], AsrGroupCounts>(
        `SELECT c.target, c.attack, c.variant, ${cat} AS category, TOTAL(c.status = 'error') AS errors
         FROM cases c WHERE c.run_id = ? GROUP BY 1, 2, 3, 4 ORDER BY MIN(c.rowid)`,
      )
      .all(runId);
    // A verdict counts once: a failed judge call as judge_errors; else inconclusive, or (harmful known) in n.
    const decided = 'v.error IS NULL AND v.inconclusive = 0 AND v.harmful IS NOT NULL';
    const judged = this.db
      .prepare<[string], AsrJudgeCounts>(
        `SELECT c.target, c.attack, c.variant, ${cat} AS category, v.judge,
                TOTAL(${decided}) AS n,
                TOTAL(${decided} AND v.harmful = 1) AS successes,
                TOTAL(${decided} AND v.refusal = 1) AS refusals,
                TOTAL(CASE WHEN ${decided} THEN v.score END) AS score_sum,
                TOTAL(${decided} AND v.score IS NOT NULL) AS score_n,
                TOTAL(v.error IS NOT NULL) AS judge_errors,
                TOTAL(v.error IS NULL AND v.inconclusive = 1) AS inconclusive,
                TOTAL(v.error IS NULL AND (CASE WHEN v.details_json LIKE '%"disagreement"%' AND json_valid(v.details_json)
                      THEN json_type(v.details_json, '$.disagreement') END) = 'true') AS disagreement
         FROM cases c INDEXED BY cases_outcome CROSS JOIN verdicts v ON v.run_id = c.run_id AND v.case_id = c.case_id
         WHERE c.run_id = ? AND c.status = 'ok'
         GROUP BY 1, 2, 3, 4, 5 ORDER BY MIN(c.rowid), v.judge`,
      )
      .all(runId);
    return { groups, judged };
  }

  counts(runId: string): { cases: number; ok: number; errors: number; verdicts: number } {
    this.queue.flush();
    const c = this.db
      .prepare<[string], { cases: number; ok: number | null; errors: number | null }>(
        "SELECT COUNT(*) AS cases, SUM(status = 'ok') AS ok, SUM(status = 'error') AS errors FROM cases WHERE run_id = ?",
      )
      .get(runId) ?? { cases: 0, ok: 0, errors: 0 };
    const v = this.db
      .prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM verdicts WHERE run_id = ?')
      .get(runId);
    return { cases: c.cases, ok: c.ok ?? 0, errors: c.errors ?? 0, verdicts: v?.n ?? 0 };
  }

  /** Requests per role and target with their token usage and cost. */
  requestSummary(runId: string): RequestSummaryRow[] {
    this.queue.flush();
    return this.db
      .prepare<[string, string], RequestSummaryRow>(
        `SELECT role, target, COUNT(*) AS requests, COALESCE(SUM(cached), 0) AS cached,
                COALESCE(SUM(status = 'error'), 0) AS errors,
                COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens, COALESCE(SUM(completion_tokens), 0) AS completion_tokens,
                COALESCE(SUM(cost_usd), 0) AS cost_usd
         FROM (${REQUEST_LOG_SQL}) GROUP BY role, target ORDER BY role, target`,
      )
      .all(runId, runId);
  }

  /** Answered calls per replica of a replica pool (issue 24), from the request log; none without pools. */
  replicaCounts(runId: string): { target: string; replica: string; requests: number }[] {
    this.queue.flush();
    return this.db
      .prepare<[string, string], { target: string; replica: string; requests: number }>(
        `SELECT target, replica, COUNT(*) AS requests FROM (
           SELECT target, replica FROM requests WHERE run_id = ? AND replica IS NOT NULL
           UNION ALL
           SELECT target, replica FROM cases WHERE run_id = ? AND replica IS NOT NULL AND request_cost_usd IS NOT NULL)
         GROUP BY target, replica ORDER BY target, replica`,
      )
      .all(runId, runId);
  }

  /** A run's errors grouped by kind, each with one example message (for the end-of-run summary). */
  errorGroups(runId: string): ErrorGroup[] {
    this.queue.flush();
    return this.db
      .prepare<[string, string], ErrorGroup>(
        `SELECT 'target:' || COALESCE(error_kind, '?') AS kind, COUNT(*) AS count, MIN(error) AS example
         FROM cases WHERE run_id = ? AND status = 'error' GROUP BY error_kind
         UNION ALL
         SELECT 'judge:' || judge AS kind, COUNT(*) AS count, MIN(error) AS example
         FROM verdicts WHERE run_id = ? AND error IS NOT NULL GROUP BY judge
         ORDER BY count DESC`,
      )
      .all(runId, runId);
  }

  /**
   * Per case, what its search cost: the `queries` object of its trace's summary step (search attacks record
   * their query counts there; null for single-turn cases) and the USD of every call logged for it, all roles
   * (its own row's for a single-turn case). For `queries per success` and `cost per success` beside the ASR.
   */
  caseSearchCosts(runId: string): CaseSearchCost[] {
    this.queue.flush();
    return this.db
      .prepare<[string, string], CaseSearchCost>(
        `SELECT c.target, c.attack, c.variant, c.case_id, c.status,
                CASE WHEN c.trace_json IS NULL OR NOT json_valid(c.trace_json) THEN NULL ELSE
                  (SELECT json_extract(t.value, '$.queries') FROM json_each(c.trace_json) t
                   WHERE json_extract(t.value, '$.step') = 'summary' LIMIT 1) END AS queries_json,
                COALESCE(r.cost, 0) + COALESCE(c.request_cost_usd, 0) AS cost_usd
         FROM cases c LEFT JOIN (SELECT case_id, SUM(cost_usd) AS cost FROM requests
                                 WHERE run_id = ? AND case_id IS NOT NULL GROUP BY case_id) r ON r.case_id = c.case_id
         WHERE c.run_id = ? ORDER BY c.rowid`,
      )
      .all(runId, runId);
  }

  /** USD spent on a run's model calls so far (every invocation), for `--max-cost`. */
  costSpent(runId: string): number {
    this.queue.flush();
    return (
      this.db
        .prepare<[string, string], { c: number | null }>(
          `SELECT SUM(cost_usd) AS c FROM (${REQUEST_LOG_SQL})`,
        )
        .get(runId, runId)?.c ?? 0
    );
  }
}
