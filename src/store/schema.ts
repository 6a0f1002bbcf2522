import type Database from 'better-sqlite3';
import { InputError } from '../errors.js';
import { LEASE_SCHEMA } from './lease.js';

/**
 * The run store's tables (all but leases' and batches', which their modules own) and how a store written by
 * an older refusenik is brought up to them. Kept apart from the queries so that what a store holds, and what
 * opening it for writing would add, is read in one place.
 */

const SCHEMA_VERSION = 1;

const CASES_OUTCOME_INDEX =
  'cases_outcome ON cases(run_id, status, target, attack, variant, category, case_id)';

export const SCHEMA = `
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
  error TEXT, error_kind TEXT, created_at TEXT NOT NULL, request_cost_usd REAL,
  PRIMARY KEY (run_id, case_id)
);
-- The end-of-run summary, the ASR table and resume read only these narrow columns: an index that covers
-- them (case_id for the join with verdicts) spares reading every case's prompt and response (kept up on
-- the commit worker, off the hot path).
CREATE INDEX IF NOT EXISTS ${CASES_OUTCOME_INDEX};
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
CREATE TABLE IF NOT EXISTS loops (
  id TEXT PRIMARY KEY, name TEXT, config_json TEXT NOT NULL, config_file TEXT,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
-- One row per stage of a loop: its input key (a hash of what it was made from) and what it produced.
CREATE TABLE IF NOT EXISTS loop_stages (
  loop_id TEXT NOT NULL REFERENCES loops(id) ON DELETE CASCADE, name TEXT NOT NULL, position INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')), input_key TEXT NOT NULL,
  output_json TEXT, error TEXT, started_at TEXT NOT NULL, finished_at TEXT,
  PRIMARY KEY (loop_id, name)
);
`;

/**
 * Stamps a store without a schema version (when `stamp`: a store opened for writing) with this one; a store
 * written by a newer refusenik is closed (`close`) and refused.
 */
export function checkVersion(
  db: Database.Database,
  file: string,
  opts: { stamp: boolean; close: () => void },
): void {
  const version = db
    .prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'schema_version'")
    .get();
  if (!version && opts.stamp)
    db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
  else if (version && Number(version.value) > SCHEMA_VERSION) {
    opts.close();
    throw new InputError(`run store was written by a newer refusenik (schema ${version.value})`, { file });
  }
}

/** What a store lacks that opening it for writing would add (tables, columns, indexes, the schema version). */
export function setupNeeded(db: Database.Database): string[] {
  const names = new Set(
    db
      .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")
      .all()
      .map((r) => r.name),
  );
  const wanted = [...`${SCHEMA}${LEASE_SCHEMA}`.matchAll(/CREATE (?:TABLE|INDEX) IF NOT EXISTS (\w+)/g)].map(
    (m) => m[1] as string,
  );
  const missing = wanted.filter((n) => !names.has(n));
  if (missing.length) return missing.map((n) => `no ${n}`);
  const out = migrations(db).map((m) => m.what);
  const version = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get();
  if (!version) out.push('no schema version');
  return out;
}

/** Brings a store written by an older refusenik up to the current columns (additive changes only). */
export function migrate(db: Database.Database): void {
  for (const m of migrations(db)) db.exec(m.sql);
}

/** The changes a store written by an older refusenik lacks, each with the SQL that makes it. */
function migrations(db: Database.Database): { what: string; sql: string }[] {
  const has = (table: string, column: string): boolean =>
    db
      .prepare<[], { name: string }>(`PRAGMA table_info(${table})`)
      .all()
      .some((c) => c.name === column);
  const out: { what: string; sql: string }[] = [];
  const column = (table: string, name: string, type: string): void => {
    if (!has(table, name))
      out.push({ what: `no ${table}.${name}`, sql: `ALTER TABLE ${table} ADD COLUMN ${name} ${type}` });
  };
  column('requests', 'source', 'TEXT');
  column('requests', 'cost_usd', 'REAL NOT NULL DEFAULT 0');
  column('cases', 'request_cost_usd', 'REAL');
  // Before case_id joined it, the covering index could not serve the ASR query's join with verdicts.
  const indexed = db
    .prepare<[], { name: string }>('PRAGMA index_info(cases_outcome)')
    .all()
    .map((c) => c.name);
  if (!indexed.includes('case_id')) {
    out.push({
      what: 'an older cases_outcome index',
      sql: `DROP INDEX IF EXISTS cases_outcome; CREATE INDEX ${CASES_OUTCOME_INDEX}`,
    });
  }
  column('verdicts', 'inconclusive', 'INTEGER NOT NULL DEFAULT 0');
  // Replica pools (issue 24): which replica answered.
  column('cases', 'replica', 'TEXT');
  column('requests', 'replica', 'TEXT');
  return out;
}
