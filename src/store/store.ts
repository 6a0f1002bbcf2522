import { existsSync } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import type { Generation, Verdict } from '../types.js';
import { InputError } from '../errors.js';
import { RunLeases } from './lease.js';
import { BatchRecords } from './batches.js';
import { openError, openForReading, openForWriting, type Connection } from './connection.js';
import { checkVersion } from './schema.js';
import { WriteQueue } from './write-queue.js';
import { RunTable, type NewRun } from './runs.js';
import { CaseTable } from './cases.js';
import { RequestTables } from './requests.js';
import { LabelTables, type LabelRow, type NewValidation } from './labels.js';
import { LoopRecords, type LoopStage, type NewLoop } from './loops.js';
import { REQUEST_LOG_SQL } from './requests.js';
import type { CaseRow, RequestLog } from './rows.js';
import type { CaseRecord, RunRecord, ValidationRecord, VerdictRecord } from './records.js';

export { emptyCase, rowTimestamp, type CaseRow, type RequestLog } from './rows.js';
export { judgeKind } from './records.js';
export type {
  CaseRecord,
  RunJudge,
  RunRecord,
  RunStatus,
  ValidationRecord,
  VerdictRecord,
} from './records.js';
export type { NewRun } from './runs.js';
export type { LabelRow, NewValidation } from './labels.js';
export type { LoopStage } from './loops.js';

/**
 * The run store: one SQLite file (WAL) holding runs, their cases (prompt + response), every judge's verdict,
 * a log of every model request, and a response cache keyed by request hash, with audit labels, judge
 * validations and loop stages beside them. This class opens the file and composes one module per concept
 * over its connection (runs.ts, cases.ts, requests.ts, labels.ts, loops.ts; leases and batches
 * are reached as `leases` and `batches`); its methods are theirs, under the names callers have always used.
 * Hot rows go through the write queue (write-queue.ts), off the request loop; every read flushes it first.
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

export const DEFAULT_DB = path.join('.refusenik', 'runs.db');

export class RunStore {
  private readonly db: Database.Database;
  /** Who is writing which run (one writer per run; see lease.ts). */
  readonly leases: RunLeases;
  /** Provider batches submitted for runs (batch delivery; see batches.ts). */
  readonly batches: BatchRecords;
  private readonly queue: WriteQueue;
  private readonly runs: RunTable;
  private readonly cases: CaseTable;
  private readonly requests: RequestTables;
  private readonly labels: LabelTables;
  private readonly loops: LoopRecords;
  /** Closes the connection (and removes a read-only copy's temporary folder, see openReadOnly). */
  private readonly closeDb: () => void;

  private constructor(
    readonly file: string,
    mustExist = false,
    /** A read-only connection (openReadOnly): no schema setup, no journal, no writes. */
    readOnly?: Connection,
  ) {
    if (mustExist && file !== ':memory:' && !existsSync(file)) {
      throw new InputError('no run store here (check --db; nothing was created)', { file });
    }
    if (readOnly) {
      this.db = readOnly.db;
      this.closeDb = readOnly.close;
      this.leases = new RunLeases(this.db, { readOnly: true });
      this.batches = new BatchRecords(this.db, { readOnly: true });
    } else {
      try {
        this.db = openForWriting(file, mustExist);
        this.leases = new RunLeases(this.db);
        this.batches = new BatchRecords(this.db);
      } catch (err) {
        throw openError(file, err);
      }
      const db = this.db;
      this.closeDb = () => db.close();
    }
    checkVersion(this.db, file, { stamp: !readOnly, close: this.closeDb });
    this.queue = new WriteQueue(this.db, file, readOnly !== undefined);
    this.runs = new RunTable(this.db, this.queue, this.batches);
    this.cases = new CaseTable(this.db, this.queue, (id) => this.runs.get(id));
    this.requests = new RequestTables(this.db, this.queue);
    this.labels = new LabelTables(this.db, this.queue);
    this.loops = new LoopRecords(this.db, this.queue);
  }

  static open(file: string = DEFAULT_DB): RunStore {
    return new RunStore(file);
  }

  /** For commands that write an existing store: a mistyped --db is an error, never a new empty store. */
  static openExisting(file: string = DEFAULT_DB): RunStore {
    return new RunStore(file, true);
  }

  /**
   * For commands that only read (runs list/show, report, analyze, compare, suite table): the store is
   * opened read-only (SQLite's own flag, which holds for root too), with no schema setup and no writes, so a
   * store the user may read but not write (someone else's file, a read-only folder, a shared copy) reads
   * like any other. A store that needs setup first gets it as openForReading says (connection.ts). A
   * mistyped --db is an error, never a new empty store.
   */
  static openReadOnly(file: string = DEFAULT_DB): RunStore {
    if (file === ':memory:') return new RunStore(file);
    if (!existsSync(file))
      throw new InputError('no run store here (check --db; nothing was created)', { file });
    const conn = openForReading(file, () => new RunStore(file, true).close());
    try {
      return new RunStore(file, true, conn);
    } catch (err) {
      conn.close();
      throw err;
    }
  }

  // ---- one concept per module: the methods below are theirs (see each module for what they do) ------------

  // ---- runs (runs.ts) ---------------------------------------------------------------------------------

  createRun(run: NewRun): RunRecord {
    return this.runs.create(run);
  }
  getRun(id: string): RunRecord | undefined {
    return this.runs.get(id);
  }
  findRun(idOrPrefix: string): RunRecord | undefined {
    return this.runs.find(idOrPrefix);
  }
  listRuns(): RunRecord[] {
    return this.runs.list();
  }
  updateRun(id: string, patch: Partial<Pick<RunRecord, 'status' | 'cases_total' | 'versions'>>): void {
    this.runs.update(id, patch);
  }
  deleteRun(id: string): void {
    this.runs.delete(id);
  }
  replaceRun(from: string, to: string): void {
    this.runs.replace(from, to);
  }

  // ---- cases and verdicts (cases.ts) ------------------------------------------------------------------

  getCase(runId: string, caseId: string): CaseRecord | undefined {
    return this.cases.get(runId, caseId);
  }
  caseStatus(runId: string, caseId: string): 'ok' | 'error' | undefined {
    return this.cases.status(runId, caseId);
  }
  caseStatuses(runId: string): Map<string, 'ok' | 'error'> {
    return this.cases.statuses(runId);
  }
  putCase(row: CaseRow): void {
    this.cases.put(row);
  }
  judgedBy(runId: string, caseId: string): Set<string> {
    return this.cases.judgedBy(runId, caseId);
  }
  putVerdict(runId: string, caseId: string, v: Verdict): void {
    this.cases.putVerdict(runId, caseId, v);
  }
  iterateCases(runId: string): IterableIterator<CaseRecord> {
    return this.cases.iterate(runId);
  }
  iterateVerdicts(runId: string): IterableIterator<VerdictRecord> {
    return this.cases.iterateVerdicts(runId);
  }
  iterateJoined(runId: string): IterableIterator<Record<string, string | number | null>> {
    return this.cases.iterateJoined(runId);
  }

  // ---- counts -----------------------------------------------------------------------------------------

  /**
   * The counts behind every ASR table, aggregated in SQL: per group (target x attack x variant, and the
   * category when `byCategory`; `(none)` for cases without one) its target errors, and per group and judge
   * its verdicts by outcome (TOTAL: 0 for none). Both lists are in first-seen order (judges within a case by name).
   */
  asrCounts(runId: string, byCategory: boolean): { groups: AsrGroupCounts[]; judged: AsrJudgeCounts[] } {
    this.flush();
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
    this.flush();
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
    this.flush();
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
    this.flush();
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
    this.flush();
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
    this.flush();
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
    this.flush();
    return (
      this.db
        .prepare<[string, string], { c: number | null }>(
          `SELECT SUM(cost_usd) AS c FROM (${REQUEST_LOG_SQL})`,
        )
        .get(runId, runId)?.c ?? 0
    );
  }

  // ---- request log and response cache (requests.ts) ---------------------------------------------------

  logRequest(row: RequestLog): void {
    this.requests.log(row);
  }
  cacheGet(key: string): Generation | undefined {
    return this.requests.cacheGet(key);
  }
  cachePut(key: string, target: string, gen: Generation): void {
    this.requests.cachePut(key, target, gen);
  }

  // ---- audit labels and judge validations (labels.ts) -------------------------------------------------

  putLabel(row: Omit<LabelRow, 'created_at'>): void {
    this.labels.putLabel(row);
  }
  labelsFor(runId: string): LabelRow[] {
    return this.labels.labelsFor(runId);
  }
  putValidation(validation: NewValidation): void {
    this.labels.putValidation(validation);
  }
  validationsFor(configHash: string): ValidationRecord[] {
    return this.labels.validationsFor(configHash);
  }

  // ---- loops (loops.ts) -------------------------------------------------------------------------------

  putLoop(loop: NewLoop): void {
    this.loops.put(loop);
  }
  loopStages(loopId: string): LoopStage[] {
    return this.loops.stages(loopId);
  }
  startLoopStage(loopId: string, name: string, position: number, inputKey: string): void {
    this.loops.startStage(loopId, name, position, inputKey);
  }
  finishLoopStage(
    loopId: string,
    name: string,
    output: Record<string, unknown> | null,
    error?: string,
  ): void {
    this.loops.finishStage(loopId, name, output, error);
  }

  // ---- write queue (write-queue.ts) -------------------------------------------------------------------

  /** Whether batches now commit on the worker thread (diagnostics; see write-queue.ts). */
  get commitsOnWorker(): boolean {
    return this.queue.commitsOnWorker;
  }

  /** Commits every accepted row now (waiting for the commit worker), so reads see all of them. */
  flush(): void {
    this.queue.flush();
  }

  close(): void {
    this.queue.close();
    if (this.db.open) this.closeDb();
  }
}
