import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Generation, Verdict } from '../types.js';
import { InputError } from '../errors.js';
import { hasSecrets, redact, redactDeep } from '../util/secrets.js';
import { RunLeases } from './lease.js';

/**
 * The run store: one SQLite file (WAL) holding runs, their cases (prompt + response), every judge's verdict,
 * a log of every model request, and a response cache keyed by request hash. A case is written once, when
 * it is finished, under a unique (run_id, case_id) key, so a resumed run simply skips it.
 *
 * Writes are queued and committed together at the end of the current event-loop turn (setImmediate): one
 * transaction per burst of answers instead of one per row (about 3x cheaper per row). No other I/O is
 * handled between an answer's arrival and its commit, so a crash loses only requests still in flight.
 */

export const DEFAULT_DB = path.join('.refusenik', 'runs.db');
const SCHEMA_VERSION = 1;
const FLUSH_ROWS = 2000;

export type RunStatus = 'running' | 'interrupted' | 'complete' | 'incomplete' | 'failed' | 'imported';

/** Errors of one kind in a run, with one example message. */
export interface ErrorGroup {
  /** `target:<kind>` for failed cases (http, timeout, network, protocol...), `judge:<id>` for failed verdicts. */
  kind: string;
  count: number;
  example: string;
}

export interface RunRow {
  id: string;
  name: string | null;
  created_at: string;
  updated_at: string;
  status: RunStatus;
  config_json: string;
  config_hash: string;
  config_file: string | null;
  versions_json: string;
  cases_total: number;
}

/** One finished case: what was sent, what came back, and what it cost. */
export interface CaseRow {
  run_id: string;
  case_id: string;
  behavior_id: string;
  goal: string;
  category: string | null;
  behavior_json: string;
  attack: string;
  variant: string;
  target: string;
  sample: number;
  status: 'ok' | 'error';
  prompt_json: string;
  response: string | null;
  answer: string | null;
  finish_reason: string | null;
  latency_ms: number | null;
  attempts: number | null;
  cached: number;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  trace_json: string | null;
  error: string | null;
  error_kind: string | null;
  created_at: string;
}

export interface RequestSummaryRow {
  role: string;
  target: string;
  requests: number;
  cached: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
}

export interface VerdictRow {
  run_id: string;
  case_id: string;
  judge: string;
  refusal: number | null;
  harmful: number | null;
  score: number | null;
  reason: string | null;
  error: string | null;
  raw: string | null;
  details_json: string | null;
  /** 1 when the judge answered but gave no readable verdict (see Verdict.inconclusive). */
  inconclusive: number;
  created_at: string;
}

/** A person's label for one case of a run (the per-run audit, `refusenik label`). */
export interface LabelRow {
  run_id: string;
  case_id: string;
  label: 'harmful' | 'safe';
  labeller: string;
  created_at: string;
}

/** A judge measured against human labels (`refusenik judge validate`). */
export interface ValidationRow {
  /** sha256 of the judge's canonical configuration (judge/config-key in cli/validate.ts). */
  config_hash: string;
  labels_sha256: string;
  judge_id: string;
  config_json: string;
  labels_source: string;
  task: string;
  /** The `--json` object of `judge validate`. */
  result_json: string;
  created_at: string;
}

export interface RequestLog {
  run_id: string;
  case_id: string | null;
  /** Who asked: `target` (under attack), `attacker` or `judge`. */
  role: string;
  /** Which one: the judge or attacker instance (`judge:qi2023`, `attacker:pair`), or `target`. */
  source: string;
  target: string;
  cached: number;
  status: 'ok' | 'error';
  latency_ms: number | null;
  attempts: number | null;
  finish_reason: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  /** USD, from the price table (0 when the model has no price or the answer came from the cache). */
  cost_usd: number;
  error: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, name TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, status TEXT NOT NULL,
  config_json TEXT NOT NULL, config_hash TEXT NOT NULL, config_file TEXT, versions_json TEXT NOT NULL,
  cases_total INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS cases (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, case_id TEXT NOT NULL,
  behavior_id TEXT NOT NULL, goal TEXT NOT NULL, category TEXT, behavior_json TEXT NOT NULL,
  attack TEXT NOT NULL, variant TEXT NOT NULL, target TEXT NOT NULL, sample INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
  prompt_json TEXT NOT NULL, response TEXT, answer TEXT, finish_reason TEXT, latency_ms REAL, attempts INTEGER,
  cached INTEGER NOT NULL DEFAULT 0, prompt_tokens INTEGER, completion_tokens INTEGER, trace_json TEXT,
  error TEXT, error_kind TEXT, created_at TEXT NOT NULL,
  PRIMARY KEY (run_id, case_id)
);
CREATE TABLE IF NOT EXISTS verdicts (
  run_id TEXT NOT NULL, case_id TEXT NOT NULL, judge TEXT NOT NULL,
  refusal INTEGER, harmful INTEGER, score REAL, reason TEXT, error TEXT, raw TEXT, details_json TEXT,
  inconclusive INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL,
  PRIMARY KEY (run_id, case_id, judge),
  FOREIGN KEY (run_id, case_id) REFERENCES cases(run_id, case_id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS requests (
  id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, case_id TEXT, role TEXT NOT NULL, target TEXT NOT NULL,
  cached INTEGER NOT NULL, status TEXT NOT NULL, latency_ms REAL, attempts INTEGER, finish_reason TEXT,
  prompt_tokens INTEGER, completion_tokens INTEGER, error TEXT, created_at TEXT NOT NULL,
  source TEXT, cost_usd REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS requests_run ON requests(run_id, case_id);
CREATE TABLE IF NOT EXISTS cache (
  key TEXT PRIMARY KEY, target TEXT NOT NULL, generation_json TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS labels (
  run_id TEXT NOT NULL, case_id TEXT NOT NULL, label TEXT NOT NULL CHECK (label IN ('harmful', 'safe')),
  labeller TEXT NOT NULL, created_at TEXT NOT NULL,
  PRIMARY KEY (run_id, case_id),
  FOREIGN KEY (run_id, case_id) REFERENCES cases(run_id, case_id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS judge_validations (
  config_hash TEXT NOT NULL, labels_sha256 TEXT NOT NULL, judge_id TEXT NOT NULL, config_json TEXT NOT NULL,
  labels_source TEXT NOT NULL, task TEXT NOT NULL, result_json TEXT NOT NULL, created_at TEXT NOT NULL,
  PRIMARY KEY (config_hash, labels_sha256)
);
`;

export class RunStore {
  private readonly db: Database.Database;
  /** Who is writing which run (one writer per run; see lease.ts). */
  readonly leases: RunLeases;
  private queue: (() => void)[] = [];
  private flushScheduled = false;
  /** A failed background flush, rethrown by the next store call so it is never lost silently. */
  private flushError: unknown;
  private readonly stmt: {
    getCase: Database.Statement<[string, string], CaseRow>;
    caseStatus: Database.Statement<[string, string], { status: string }>;
    putCase: Database.Statement<[CaseRow]>;
    putVerdict: Database.Statement<[VerdictRow]>;
    judgesFor: Database.Statement<[string, string], { judge: string }>;
    verdictsFor: Database.Statement<[string, string], VerdictRow>;
    logRequest: Database.Statement<[RequestLog & { created_at: string }]>;
    cacheGet: Database.Statement<[string], { generation_json: string }>;
    cachePut: Database.Statement<[string, string, string, string]>;
  };

  private constructor(
    readonly file: string,
    mustExist = false,
  ) {
    if (mustExist && file !== ':memory:' && !existsSync(file)) {
      throw new InputError('no run store here (check --db; nothing was created)', { file });
    }
    try {
      if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      this.db = new Database(file, { fileMustExist: mustExist });
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('busy_timeout = 10000');
      this.db.pragma('foreign_keys = ON');
      this.db.exec(SCHEMA);
      migrate(this.db);
      this.leases = new RunLeases(this.db);
    } catch (err) {
      throw new InputError(`cannot open run store: ${(err as Error).message}`, { file });
    }
    const version = this.db
      .prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'schema_version'")
      .get();
    if (!version)
      this.db
        .prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?)")
        .run(String(SCHEMA_VERSION));
    else if (Number(version.value) > SCHEMA_VERSION) {
      throw new InputError(`run store was written by a newer refusenik (schema ${version.value})`, { file });
    }
    const caseCols = Object.keys(emptyCase())
      .map((k) => `@${k}`)
      .join(', ');
    this.stmt = {
      getCase: this.db.prepare('SELECT * FROM cases WHERE run_id = ? AND case_id = ?'),
      caseStatus: this.db.prepare('SELECT status FROM cases WHERE run_id = ? AND case_id = ?'),
      putCase: this.db.prepare(
        `INSERT OR REPLACE INTO cases (${Object.keys(emptyCase()).join(', ')}) VALUES (${caseCols})`,
      ),
      putVerdict: this.db.prepare(
        `INSERT OR REPLACE INTO verdicts (run_id, case_id, judge, refusal, harmful, score, reason, error, raw, details_json, inconclusive, created_at)
         VALUES (@run_id, @case_id, @judge, @refusal, @harmful, @score, @reason, @error, @raw, @details_json, @inconclusive, @created_at)`,
      ),
      judgesFor: this.db.prepare(
        'SELECT judge FROM verdicts WHERE run_id = ? AND case_id = ? AND error IS NULL',
      ),
      verdictsFor: this.db.prepare('SELECT * FROM verdicts WHERE run_id = ? AND case_id = ?'),
      logRequest: this.db.prepare(
        `INSERT INTO requests (run_id, case_id, role, source, target, cached, status, latency_ms, attempts, finish_reason,
           prompt_tokens, completion_tokens, cost_usd, error, created_at)
         VALUES (@run_id, @case_id, @role, @source, @target, @cached, @status, @latency_ms, @attempts, @finish_reason,
           @prompt_tokens, @completion_tokens, @cost_usd, @error, @created_at)`,
      ),
      cacheGet: this.db.prepare('SELECT generation_json FROM cache WHERE key = ?'),
      cachePut: this.db.prepare(
        'INSERT OR REPLACE INTO cache (key, target, generation_json, created_at) VALUES (?, ?, ?, ?)',
      ),
    };
  }

  static open(file: string = DEFAULT_DB): RunStore {
    return new RunStore(file);
  }

  /** For commands that only read: a mistyped --db is an error, never a new empty store. */
  static openExisting(file: string = DEFAULT_DB): RunStore {
    return new RunStore(file, true);
  }

  // ---- runs -------------------------------------------------------------------------------------------

  createRun(run: Omit<RunRow, 'created_at' | 'updated_at'>): RunRow {
    const now = new Date().toISOString();
    const row: RunRow = { ...run, config_json: redact(run.config_json), created_at: now, updated_at: now };
    this.flush();
    this.db
      .prepare(
        `INSERT INTO runs (id, name, created_at, updated_at, status, config_json, config_hash, config_file, versions_json, cases_total)
         VALUES (@id, @name, @created_at, @updated_at, @status, @config_json, @config_hash, @config_file, @versions_json, @cases_total)`,
      )
      .run(row);
    return row;
  }

  getRun(id: string): RunRow | undefined {
    return this.db.prepare<[string], RunRow>('SELECT * FROM runs WHERE id = ?').get(id);
  }

  /** A run id may be abbreviated to any unique prefix. */
  findRun(idOrPrefix: string): RunRow | undefined {
    const exact = this.getRun(idOrPrefix);
    if (exact) return exact;
    const rows = this.db
      .prepare<[string], RunRow>("SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 2")
      .all(`${idOrPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    return rows.length === 1 ? rows[0] : undefined;
  }

  listRuns(): RunRow[] {
    return this.db.prepare<[], RunRow>('SELECT * FROM runs ORDER BY created_at DESC').all();
  }

  updateRun(id: string, patch: Partial<Pick<RunRow, 'status' | 'cases_total' | 'versions_json'>>): void {
    this.flush();
    const sets = Object.keys(patch).map((k) => `${k} = @${k}`);
    this.db
      .prepare(`UPDATE runs SET ${[...sets, 'updated_at = @updated_at'].join(', ')} WHERE id = @id`)
      .run({ ...patch, id, updated_at: new Date().toISOString() });
  }

  deleteRun(id: string): void {
    this.flush();
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM verdicts WHERE run_id = ?').run(id);
      this.db.prepare('DELETE FROM cases WHERE run_id = ?').run(id);
      this.db.prepare('DELETE FROM requests WHERE run_id = ?').run(id);
      this.db.prepare('DELETE FROM runs WHERE id = ?').run(id);
    })();
  }

  // ---- cases and verdicts -----------------------------------------------------------------------------

  getCase(runId: string, caseId: string): CaseRow | undefined {
    return this.stmt.getCase.get(runId, caseId);
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
          error: redact(row.error),
          trace_json: redact(row.trace_json),
        }
      : row;
    this.enqueue(() => this.stmt.putCase.run(clean));
  }

  /** Judges that already have a (non-failed) verdict for this case. */
  judgedBy(runId: string, caseId: string): Set<string> {
    return new Set(this.stmt.judgesFor.all(runId, caseId).map((r) => r.judge));
  }

  verdictsFor(runId: string, caseId: string): VerdictRow[] {
    return this.stmt.verdictsFor.all(runId, caseId);
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
      error: redact(v.error ?? null),
      raw: redact(v.raw ?? null),
      details_json: v.details ? JSON.stringify(v.details) : null,
      inconclusive: v.inconclusive ? 1 : 0,
      created_at: new Date().toISOString(),
    };
    this.enqueue(() => this.stmt.putVerdict.run(row));
  }

  iterateCases(runId: string): IterableIterator<CaseRow> {
    this.flush();
    return this.db
      .prepare<[string], CaseRow>('SELECT * FROM cases WHERE run_id = ? ORDER BY rowid')
      .iterate(runId);
  }

  iterateVerdicts(runId: string): IterableIterator<VerdictRow> {
    this.flush();
    return this.db
      .prepare<[string], VerdictRow>('SELECT * FROM verdicts WHERE run_id = ? ORDER BY rowid')
      .iterate(runId);
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
      .prepare<[string], RequestSummaryRow>(
        `SELECT role, target, COUNT(*) AS requests, COALESCE(SUM(cached), 0) AS cached,
                COALESCE(SUM(status = 'error'), 0) AS errors,
                COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens, COALESCE(SUM(completion_tokens), 0) AS completion_tokens,
                COALESCE(SUM(cost_usd), 0) AS cost_usd
         FROM requests WHERE run_id = ? GROUP BY role, target ORDER BY role, target`,
      )
      .all(runId);
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

  /** USD spent on a run's model calls so far (every invocation), for `--max-cost`. */
  costSpent(runId: string): number {
    this.flush();
    return (
      this.db
        .prepare<[string], { c: number | null }>('SELECT SUM(cost_usd) AS c FROM requests WHERE run_id = ?')
        .get(runId)?.c ?? 0
    );
  }

  // ---- request log and response cache -----------------------------------------------------------------

  logRequest(row: RequestLog): void {
    const withTime = { ...row, error: redact(row.error), created_at: new Date().toISOString() };
    this.enqueue(() => this.stmt.logRequest.run(withTime));
  }

  cacheGet(key: string): Generation | undefined {
    const row = this.stmt.cacheGet.get(key);
    return row ? (JSON.parse(row.generation_json) as Generation) : undefined;
  }

  cachePut(key: string, target: string, gen: Generation): void {
    const json = JSON.stringify(redactDeep(gen));
    const now = new Date().toISOString();
    this.enqueue(() => this.stmt.cachePut.run(key, target, json, now));
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
  putValidation(row: Omit<ValidationRow, 'created_at'>): void {
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
  validationsFor(configHash: string): ValidationRow[] {
    return this.db
      .prepare<[string], ValidationRow>(
        'SELECT * FROM judge_validations WHERE config_hash = ? ORDER BY created_at DESC, labels_source',
      )
      .all(configHash);
  }

  // ---- write queue ------------------------------------------------------------------------------------

  private enqueue(write: () => void): void {
    this.throwFlushError();
    this.queue.push(write);
    if (this.queue.length >= FLUSH_ROWS) return this.flush();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        try {
          this.flush();
        } catch (err) {
          this.flushError = err;
        }
      });
    }
  }

  private throwFlushError(): void {
    if (this.flushError !== undefined) {
      const err = this.flushError;
      this.flushError = undefined;
      throw err;
    }
  }

  /** Commits every queued write now, in one transaction. */
  flush(): void {
    this.throwFlushError();
    this.flushScheduled = false;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.db.transaction(() => {
      for (const write of batch) write();
    })();
  }

  close(): void {
    this.flush();
    if (this.db.open) this.db.close();
  }
}

/** Brings a store written by an older refusenik up to the current columns (additive changes only). */
function migrate(db: Database.Database): void {
  const has = (table: string, column: string): boolean =>
    db
      .prepare<[], { name: string }>(`PRAGMA table_info(${table})`)
      .all()
      .some((c) => c.name === column);
  if (!has('requests', 'source')) db.exec('ALTER TABLE requests ADD COLUMN source TEXT');
  if (!has('requests', 'cost_usd'))
    db.exec('ALTER TABLE requests ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0');
  if (!has('verdicts', 'inconclusive'))
    db.exec('ALTER TABLE verdicts ADD COLUMN inconclusive INTEGER NOT NULL DEFAULT 0');
}

function boolOrNull(b: boolean | null | undefined): number | null {
  return b === null || b === undefined ? null : b ? 1 : 0;
}

/** A case row with every optional column empty; its keys are the column list of `cases`, in insert order. */
export function emptyCase(): CaseRow {
  return {
    run_id: '',
    case_id: '',
    behavior_id: '',
    goal: '',
    category: null,
    behavior_json: '',
    attack: '',
    variant: '',
    target: '',
    sample: 0,
    status: 'ok',
    prompt_json: '',
    response: null,
    answer: null,
    finish_reason: null,
    latency_ms: null,
    attempts: null,
    cached: 0,
    prompt_tokens: null,
    completion_tokens: null,
    trace_json: null,
    error: null,
    error_kind: null,
    created_at: '',
  };
}
