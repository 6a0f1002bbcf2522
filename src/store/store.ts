import { existsSync } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import type { Generation, Verdict } from '../types.js';
import { InputError } from '../errors.js';
import { hasSecrets, redact, redactDeep, redactError, redactConfig } from '../util/secrets.js';
import { RunLeases } from './lease.js';
import { BatchRecords } from './batches.js';
import { openError, openForReading, openForWriting, type Connection } from './connection.js';
import { checkVersion } from './schema.js';
import { WriteQueue } from './write-queue.js';
import {
  CASE_COLUMNS,
  REQUEST_COLUMNS,
  VERDICT_COLUMNS,
  type CaseRow,
  type RequestLog,
  type VerdictRow,
  type Write,
  rowTimestamp,
} from './rows.js';

import {
  caseRecord,
  runRecord,
  validationRecord,
  verdictRecord,
  type CaseRecord,
  type RunJudge,
  type RunRecord,
  type RunRow,
  type ValidationRecord,
  type ValidationRow,
  type VerdictRecord,
} from './records.js';

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

/** A run to create: its config snapshot and versions as values (the store encodes them). */
export interface NewRun extends Omit<RunRow, 'created_at' | 'updated_at' | 'config_json' | 'versions_json'> {
  config: unknown;
  versions: Record<string, unknown>;
}

/** A judge's measured figures to store (`refusenik judge validate`). */
export interface NewValidation extends Omit<ValidationRecord, 'created_at' | 'config' | 'result'> {
  config: object;
  result: object;
}

/**
 * The run store: one SQLite file (WAL) holding runs, their cases (prompt + response), every judge's verdict,
 * a log of every model request, and a response cache keyed by request hash. A case is written once, when
 * it is finished, under a unique (run_id, case_id) key, so a resumed run simply skips it.
 *
 * Writes are off the hot path, through the write queue (write-queue.ts); the schema is schema.ts's and
 * opening the file connection.ts's.
 */

export const DEFAULT_DB = path.join('.refusenik', 'runs.db');

interface LoopRow {
  id: string;
  name: string | null;
  config_json: string;
  config_file: string | null;
  created_at: string;
  updated_at: string;
}

interface LoopStageRow {
  loop_id: string;
  name: string;
  position: number;
  status: 'running' | 'done' | 'failed';
  input_key: string;
  output_json: string | null;
  error: string | null;
  started_at: string;
  finished_at: string | null;
}

/** One recorded stage of a loop, its output parsed. */
export interface LoopStage {
  name: string;
  position: number;
  status: 'running' | 'done' | 'failed';
  /** Hash of everything the stage was made from: a stage is redone only when this changes. */
  input_key: string;
  output: Record<string, unknown> | null;
  error: string | null;
  started_at: string;
  finished_at: string | null;
}

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

/** A person's label for one case of a run (the per-run audit, `refusenik label`). */
export interface LabelRow {
  run_id: string;
  case_id: string;
  label: 'harmful' | 'safe';
  labeller: string;
  created_at: string;
}

export class RunStore {
  private readonly db: Database.Database;
  /** Who is writing which run (one writer per run; see lease.ts). */
  readonly leases: RunLeases;
  /** Provider batches submitted for runs (batch delivery; see batches.ts). */
  readonly batches: BatchRecords;
  private readonly queue: WriteQueue;
  private readonly stmt: {
    getCase: Database.Statement<[string, string], CaseRow>;
    caseStatus: Database.Statement<[string, string], { status: string }>;
    judgesFor: Database.Statement<[string, string], { judge: string }>;
    cacheGet: Database.Statement<[string], { generation_json: string }>;
  };

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
    this.stmt = {
      getCase: this.db.prepare('SELECT * FROM cases WHERE run_id = ? AND case_id = ?'),
      caseStatus: this.db.prepare('SELECT status FROM cases WHERE run_id = ? AND case_id = ?'),
      judgesFor: this.db.prepare(
        'SELECT judge FROM verdicts WHERE run_id = ? AND case_id = ? AND error IS NULL',
      ),
      cacheGet: this.db.prepare('SELECT generation_json FROM cache WHERE key = ?'),
    };
    this.queue = new WriteQueue(this.db, file, readOnly !== undefined);
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

  // ---- runs -------------------------------------------------------------------------------------------

  createRun(run: NewRun): RunRecord {
    const now = new Date().toISOString();
    const { config, versions, ...rest } = run;
    const row: RunRow = {
      ...rest,
      config_json: redact(JSON.stringify(config)),
      versions_json: JSON.stringify(versions),
      created_at: now,
      updated_at: now,
    };
    this.flush();
    this.db
      .prepare(
        `INSERT INTO runs (id, name, created_at, updated_at, status, config_json, config_hash, config_file, versions_json, cases_total)
         VALUES (@id, @name, @created_at, @updated_at, @status, @config_json, @config_hash, @config_file, @versions_json, @cases_total)`,
      )
      .run(row);
    return runRecord(row);
  }

  getRun(id: string): RunRecord | undefined {
    const row = this.db.prepare<[string], RunRow>('SELECT * FROM runs WHERE id = ?').get(id);
    return row && runRecord(row);
  }

  /** A run id may be abbreviated to any unique prefix. */
  findRun(idOrPrefix: string): RunRecord | undefined {
    const exact = this.getRun(idOrPrefix);
    if (exact) return exact;
    const rows = this.db
      .prepare<[string], RunRow>("SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 2")
      .all(`${idOrPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    return rows.length === 1 && rows[0] ? runRecord(rows[0]) : undefined;
  }

  listRuns(): RunRecord[] {
    return this.db.prepare<[], RunRow>('SELECT * FROM runs ORDER BY created_at DESC').all().map(runRecord);
  }

  updateRun(id: string, patch: Partial<Pick<RunRecord, 'status' | 'cases_total' | 'versions'>>): void {
    this.flush();
    const { versions, ...plain } = patch;
    const columns: Record<string, string | number> = { ...plain };
    if (versions) columns['versions_json'] = JSON.stringify(versions);
    const sets = Object.keys(columns).map((k) => `${k} = @${k}`);
    this.db
      .prepare(`UPDATE runs SET ${[...sets, 'updated_at = @updated_at'].join(', ')} WHERE id = @id`)
      .run({ ...columns, id, updated_at: new Date().toISOString() });
  }

  deleteRun(id: string): void {
    this.flush();
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM verdicts WHERE run_id = ?').run(id);
      this.db.prepare('DELETE FROM cases WHERE run_id = ?').run(id);
      this.db.prepare('DELETE FROM requests WHERE run_id = ?').run(id);
      this.batches.deleteRun(id);
      this.db.prepare('DELETE FROM runs WHERE id = ?').run(id);
    })();
  }

  /**
   * Moves every row of run `from` (its cases, verdicts, request log and labels) to run `to`, replacing what
   * `to` held, in one transaction: readers see the old run or the new one, never a mix or neither.
   */
  replaceRun(from: string, to: string): void {
    this.flush();
    this.db.transaction(() => {
      // The rows of `from` move table by table; the keys that tie them agree again at the commit.
      this.db.pragma('defer_foreign_keys = ON');
      this.db.prepare('DELETE FROM verdicts WHERE run_id = ?').run(to);
      this.db.prepare('DELETE FROM labels WHERE run_id = ?').run(to);
      this.db.prepare('DELETE FROM cases WHERE run_id = ?').run(to);
      this.db.prepare('DELETE FROM requests WHERE run_id = ?').run(to);
      this.db.prepare('DELETE FROM runs WHERE id = ?').run(to);
      this.db.prepare('UPDATE runs SET id = ? WHERE id = ?').run(to, from);
      for (const table of ['cases', 'verdicts', 'requests', 'labels'])
        this.db.prepare(`UPDATE ${table} SET run_id = ? WHERE run_id = ?`).run(to, from);
    })();
  }

  // ---- cases and verdicts -----------------------------------------------------------------------------

  getCase(runId: string, caseId: string): CaseRecord | undefined {
    const row = this.stmt.getCase.get(runId, caseId);
    return row && caseRecord(row);
  }

  caseStatus(runId: string, caseId: string): 'ok' | 'error' | undefined {
    return this.stmt.caseStatus.get(runId, caseId)?.status as 'ok' | 'error' | undefined;
  }

  /** Every stored case's status, so a resumed run knows what is done without a query per case. */
  caseStatuses(runId: string): Map<string, 'ok' | 'error'> {
    this.flush();
    const out = new Map<string, 'ok' | 'error'>();
    const rows = this.db
      .prepare<[string], { case_id: string; status: 'ok' | 'error' }>(
        'SELECT case_id, status FROM cases WHERE run_id = ?',
      )
      .iterate(runId);
    for (const r of rows) out.set(r.case_id, r.status);
    return out;
  }

  putCase(row: CaseRow): void {
    const clean = hasSecrets()
      ? {
          ...row,
          response: redact(row.response),
          answer: redact(row.answer),
          error: redactError(row.error),
          trace_json: redact(row.trace_json),
        }
      : row.error === null
        ? row
        : { ...row, error: redactError(row.error) };
    this.enqueue(['case', CASE_COLUMNS.map((k) => clean[k] ?? null)]);
  }

  /** Judges that already have a (non-failed) verdict for this case. */
  judgedBy(runId: string, caseId: string): Set<string> {
    return new Set(this.stmt.judgesFor.all(runId, caseId).map((r) => r.judge));
  }

  putVerdict(runId: string, caseId: string, v: Verdict): void {
    const row: VerdictRow = {
      run_id: runId,
      case_id: caseId,
      judge: v.judge,
      refusal: boolOrNull(v.refusal),
      harmful: boolOrNull(v.harmful),
      score: v.score ?? null,
      reason: redact(v.reason ?? null),
      error: redactError(v.error ?? null),
      raw: redact(v.raw ?? null),
      details_json: v.details ? JSON.stringify(v.details) : null,
      inconclusive: v.inconclusive ? 1 : 0,
      created_at: rowTimestamp(),
    };
    this.enqueue(['verdict', VERDICT_COLUMNS.map((k) => row[k])]);
  }

  *iterateCases(runId: string): IterableIterator<CaseRecord> {
    this.flush();
    const rows = this.db
      .prepare<[string], CaseRow>('SELECT * FROM cases WHERE run_id = ? ORDER BY rowid')
      .iterate(runId);
    for (const row of rows) yield caseRecord(row);
  }

  *iterateVerdicts(runId: string): IterableIterator<VerdictRecord> {
    this.flush();
    const judges = this.getRun(runId)?.judges ?? new Map<string, RunJudge>();
    const rows = this.db
      .prepare<[string], VerdictRow>('SELECT * FROM verdicts WHERE run_id = ? ORDER BY rowid')
      .iterate(runId);
    for (const row of rows) yield verdictRecord(row, judges);
  }

  /** Every case with each of its verdicts (a case with none, e.g. an error, appears once with judge NULL). */
  iterateJoined(runId: string): IterableIterator<Record<string, string | number | null>> {
    this.flush();
    return this.db
      .prepare<[string], Record<string, string | number | null>>(
        `SELECT c.case_id, c.target, c.attack, c.variant, c.category, c.status, v.judge, v.harmful, v.refusal, v.score, v.error, v.inconclusive
         FROM cases c LEFT JOIN verdicts v ON v.run_id = c.run_id AND v.case_id = c.case_id
         WHERE c.run_id = ? ORDER BY c.rowid`,
      )
      .iterate(runId);
  }

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

  // ---- request log and response cache -----------------------------------------------------------------

  logRequest(row: RequestLog): void {
    const withTime = {
      ...row,
      error: redactError(row.error),
      created_at: rowTimestamp(),
      replica: row.replica ?? null,
    };
    this.enqueue(['request', REQUEST_COLUMNS.map((k) => withTime[k])]);
  }

  cacheGet(key: string): Generation | undefined {
    const row = this.stmt.cacheGet.get(key);
    return row ? (JSON.parse(row.generation_json) as Generation) : undefined;
  }

  cachePut(key: string, target: string, gen: Generation): void {
    const json = JSON.stringify(redactDeep(gen));
    const now = new Date().toISOString();
    this.enqueue(['cache', [key, target, json, now]]);
  }

  // ---- audit labels and judge validations ------------------------------------------------------------

  /** Stores (or replaces) a person's label for a case of a run. */
  putLabel(row: Omit<LabelRow, 'created_at'>): void {
    this.flush();
    this.db
      .prepare(
        `INSERT OR REPLACE INTO labels (run_id, case_id, label, labeller, created_at)
         VALUES (@run_id, @case_id, @label, @labeller, @created_at)`,
      )
      .run({ ...row, created_at: new Date().toISOString() });
  }

  labelsFor(runId: string): LabelRow[] {
    this.flush();
    return this.db
      .prepare<[string], LabelRow>('SELECT * FROM labels WHERE run_id = ? ORDER BY case_id')
      .all(runId);
  }

  /** Stores a judge's measured figures, keyed by its configuration hash and the labels file's sha256. */
  putValidation(validation: NewValidation): void {
    const { config, result, ...rest } = validation;
    // A judge model's URL may carry credentials: stored like a run's config snapshot.
    const row = {
      ...rest,
      config_json: JSON.stringify(redactConfig(config)),
      result_json: JSON.stringify(result),
    };
    this.flush();
    this.db
      .prepare(
        `INSERT OR REPLACE INTO judge_validations
           (config_hash, labels_sha256, judge_id, config_json, labels_source, task, result_json, created_at)
         VALUES (@config_hash, @labels_sha256, @judge_id, @config_json, @labels_source, @task, @result_json, @created_at)`,
      )
      .run({ ...row, created_at: new Date().toISOString() });
  }

  /** Every stored validation of one judge configuration, newest first. */
  validationsFor(configHash: string): ValidationRecord[] {
    return this.db
      .prepare<[string], ValidationRow>(
        'SELECT * FROM judge_validations WHERE config_hash = ? ORDER BY created_at DESC, labels_source',
      )
      .all(configHash)
      .map(validationRecord);
  }

  // ---- loops (refusenik loop): stage records, written at once (a stage is minutes, not milliseconds) ----

  putLoop(loop: Pick<LoopRow, 'id' | 'name' | 'config_file'> & { config: unknown }): void {
    const { config, ...rest } = loop;
    const row = { ...rest, config_json: JSON.stringify(redactConfig(config)) };
    this.flush();
    const now = new Date().toISOString();
    this.db
      .prepare(
        `INSERT INTO loops (id, name, config_json, config_file, created_at, updated_at)
         VALUES (@id, @name, @config_json, @config_file, @now, @now)
         ON CONFLICT(id) DO UPDATE SET updated_at = @now, config_file = @config_file`,
      )
      .run({ ...row, now });
  }

  /** A loop's stages in order, their outputs parsed. */
  loopStages(loopId: string): LoopStage[] {
    return this.db
      .prepare<[string], LoopStageRow>('SELECT * FROM loop_stages WHERE loop_id = ? ORDER BY position')
      .all(loopId)
      .map((r) => ({
        name: r.name,
        position: r.position,
        status: r.status,
        input_key: r.input_key,
        output: r.output_json === null ? null : (JSON.parse(r.output_json) as Record<string, unknown>),
        error: r.error,
        started_at: r.started_at,
        finished_at: r.finished_at,
      }));
  }

  startLoopStage(loopId: string, name: string, position: number, inputKey: string): void {
    this.flush();
    this.db
      .prepare(
        `INSERT OR REPLACE INTO loop_stages
           (loop_id, name, position, status, input_key, output_json, error, started_at, finished_at)
         VALUES (?, ?, ?, 'running', ?, NULL, NULL, ?, NULL)`,
      )
      .run(loopId, name, position, inputKey, new Date().toISOString());
  }

  finishLoopStage(
    loopId: string,
    name: string,
    output: Record<string, unknown> | null,
    error?: string,
  ): void {
    this.flush();
    this.db
      .prepare(
        `UPDATE loop_stages SET status = ?, output_json = ?, error = ?, finished_at = ?
         WHERE loop_id = ? AND name = ?`,
      )
      .run(
        error === undefined ? 'done' : 'failed',
        output === null ? null : JSON.stringify(output),
        error ?? null,
        new Date().toISOString(),
        loopId,
        name,
      );
  }

  // ---- write queue (write-queue.ts) -------------------------------------------------------------------

  /** Whether batches now commit on the worker thread (diagnostics; see write-queue.ts). */
  get commitsOnWorker(): boolean {
    return this.queue.commitsOnWorker;
  }

  private enqueue(w: Write): void {
    this.queue.add(w);
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

/**
 * A run's whole request log (two parameters: the run id twice): the rows of `requests`, and the case rows
 * that are also the log entry of their one target call (`request_cost_usd` set). A cached call has no
 * token counts in the log (it cost nothing), as `ModelCalls` writes it.
 */
const REQUEST_LOG_SQL = `
  SELECT role, target, cached, status, prompt_tokens, completion_tokens, cost_usd FROM requests WHERE run_id = ?
  UNION ALL
  SELECT 'target', target, cached, status,
         CASE WHEN cached = 1 THEN NULL ELSE prompt_tokens END, CASE WHEN cached = 1 THEN NULL ELSE completion_tokens END,
         request_cost_usd
  FROM cases WHERE run_id = ? AND request_cost_usd IS NOT NULL`;

function boolOrNull(b: boolean | null | undefined): number | null {
  return b === null || b === undefined ? null : b ? 1 : 0;
}
