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
import { RunStats } from './stats.js';
import type {
  AsrGroupCounts,
  AsrJudgeCounts,
  CaseSearchCost,
  ErrorGroup,
  RequestSummaryRow,
} from './stats.js';
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
export type {
  AsrGroupCounts,
  AsrJudgeCounts,
  CallTally,
  CaseSearchCost,
  ErrorGroup,
  RequestSummaryRow,
} from './stats.js';

/**
 * The run store: one SQLite file (WAL) holding runs, their cases (prompt + response), every judge's verdict,
 * a log of every model request, and a response cache keyed by request hash, with audit labels, judge
 * validations and loop stages beside them. This class opens the file and composes one module per concept
 * over its connection (runs.ts, cases.ts, requests.ts, labels.ts, loops.ts, stats.ts; leases and batches
 * are reached as `leases` and `batches`); its methods are theirs, under the names callers have always used.
 * Hot rows go through the write queue (write-queue.ts), off the request loop; every read flushes it first.
 */

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
  private readonly stats: RunStats;
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
    this.stats = new RunStats(this.db, this.queue);
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

  // ---- counts (stats.ts) ------------------------------------------------------------------------------

  asrCounts(runId: string, byCategory: boolean): { groups: AsrGroupCounts[]; judged: AsrJudgeCounts[] } {
    return this.stats.asrCounts(runId, byCategory);
  }
  counts(runId: string): {
    cases: number;
    ok: number;
    errors: number;
    verdicts: number;
  } {
    return this.stats.counts(runId);
  }
  requestSummary(runId: string): RequestSummaryRow[] {
    return this.stats.requestSummary(runId);
  }
  replicaCounts(runId: string): { target: string; replica: string; requests: number }[] {
    return this.stats.replicaCounts(runId);
  }
  errorGroups(runId: string): ErrorGroup[] {
    return this.stats.errorGroups(runId);
  }
  caseSearchCosts(runId: string): CaseSearchCost[] {
    return this.stats.caseSearchCosts(runId);
  }
  costSpent(runId: string): number {
    return this.stats.costSpent(runId);
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
