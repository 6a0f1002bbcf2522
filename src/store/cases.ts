import type Database from 'better-sqlite3';
import type { Verdict } from '../types.js';
import { hasSecrets, redact, redactError } from '../util/secrets.js';
import { CASE_COLUMNS, VERDICT_COLUMNS, rowTimestamp, type CaseRow, type VerdictRow } from './rows.js';
import {
  caseRecord,
  verdictRecord,
  type CaseRecord,
  type RunJudge,
  type RunRecord,
  type VerdictRecord,
} from './records.js';
import type { WriteQueue } from './write-queue.js';

/**
 * A run's cases (prompt and response) and every judge's verdict on them: the hot rows, written through the
 * write queue (redacted first) and read back for resume, judging and reports. A case is written once, when
 * it is finished, under a unique (run_id, case_id) key, so a resumed run simply skips it.
 */

export class CaseTable {
  private readonly stmt: {
    getCase: Database.Statement<[string, string], CaseRow>;
    caseStatus: Database.Statement<[string, string], { status: string }>;
    judgesFor: Database.Statement<[string, string], { judge: string }>;
  };

  constructor(
    private readonly db: Database.Database,
    private readonly queue: Pick<WriteQueue, 'add' | 'flush'>,
    /** The run's judges, for reading its verdicts (see verdictRecord). */
    private readonly getRun: (id: string) => RunRecord | undefined,
  ) {
    this.stmt = {
      getCase: db.prepare('SELECT * FROM cases WHERE run_id = ? AND case_id = ?'),
      caseStatus: db.prepare('SELECT status FROM cases WHERE run_id = ? AND case_id = ?'),
      judgesFor: db.prepare('SELECT judge FROM verdicts WHERE run_id = ? AND case_id = ? AND error IS NULL'),
    };
  }

  get(runId: string, caseId: string): CaseRecord | undefined {
    const row = this.stmt.getCase.get(runId, caseId);
    return row && caseRecord(row);
  }

  status(runId: string, caseId: string): 'ok' | 'error' | undefined {
    return this.stmt.caseStatus.get(runId, caseId)?.status as 'ok' | 'error' | undefined;
  }

  /** Every stored case's status, so a resumed run knows what is done without a query per case. */
  statuses(runId: string): Map<string, 'ok' | 'error'> {
    this.queue.flush();
    const out = new Map<string, 'ok' | 'error'>();
    const rows = this.db
      .prepare<[string], { case_id: string; status: 'ok' | 'error' }>(
        'SELECT case_id, status FROM cases WHERE run_id = ?',
      )
      .iterate(runId);
    for (const r of rows) out.set(r.case_id, r.status);
    return out;
  }

  put(row: CaseRow): void {
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
    this.queue.add(['case', CASE_COLUMNS.map((k) => clean[k] ?? null)]);
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
    this.queue.add(['verdict', VERDICT_COLUMNS.map((k) => row[k])]);
  }

  *iterate(runId: string): IterableIterator<CaseRecord> {
    this.queue.flush();
    const rows = this.db
      .prepare<[string], CaseRow>('SELECT * FROM cases WHERE run_id = ? ORDER BY rowid')
      .iterate(runId);
    for (const row of rows) yield caseRecord(row);
  }

  *iterateVerdicts(runId: string): IterableIterator<VerdictRecord> {
    this.queue.flush();
    const judges = this.getRun(runId)?.judges ?? new Map<string, RunJudge>();
    const rows = this.db
      .prepare<[string], VerdictRow>('SELECT * FROM verdicts WHERE run_id = ? ORDER BY rowid')
      .iterate(runId);
    for (const row of rows) yield verdictRecord(row, judges);
  }

  /** Every case with each of its verdicts (a case with none, e.g. an error, appears once with judge NULL). */
  iterateJoined(runId: string): IterableIterator<Record<string, string | number | null>> {
    this.queue.flush();
    return this.db
      .prepare<[string], Record<string, string | number | null>>(
        `SELECT c.case_id, c.target, c.attack, c.variant, c.category, c.status, v.judge, v.harmful, v.refusal, v.score, v.error, v.inconclusive
         FROM cases c LEFT JOIN verdicts v ON v.run_id = c.run_id AND v.case_id = c.case_id
         WHERE c.run_id = ? ORDER BY c.rowid`,
      )
      .iterate(runId);
  }
}

function boolOrNull(b: boolean | null | undefined): number | null {
  return b === null || b === undefined ? null : b ? 1 : 0;
}
