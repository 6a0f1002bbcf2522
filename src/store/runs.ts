import type Database from 'better-sqlite3';
import { redact } from '../util/secrets.js';
import type { BatchRecords } from './batches.js';
import { runRecord, type RunRecord, type RunRow } from './records.js';
import type { WriteQueue } from './write-queue.js';

/**
 * The `runs` table: a run's config snapshot, versions and status, and the whole-run moves that touch every
 * table keyed by a run (delete, replace). Its rows are written at once, not through the write queue: a run
 * changes a few times, not per case. Who may write a run is lease.ts's.
 */

/** A run to create: its config snapshot and versions as values (the store encodes them). */
export interface NewRun extends Omit<RunRow, 'created_at' | 'updated_at' | 'config_json' | 'versions_json'> {
  config: unknown;
  versions: Record<string, unknown>;
}

export class RunTable {
  constructor(
    private readonly db: Database.Database,
    private readonly queue: Pick<WriteQueue, 'flush'>,
    private readonly batches: BatchRecords,
  ) {}

  create(run: NewRun): RunRecord {
    const now = new Date().toISOString();
    const { config, versions, ...rest } = run;
    const row: RunRow = {
      ...rest,
      config_json: redact(JSON.stringify(config)),
      versions_json: JSON.stringify(versions),
      created_at: now,
      updated_at: now,
    };
    this.queue.flush();
    this.db
      .prepare(
        `INSERT INTO runs (id, name, created_at, updated_at, status, config_json, config_hash, config_file, versions_json, cases_total)
         VALUES (@id, @name, @created_at, @updated_at, @status, @config_json, @config_hash, @config_file, @versions_json, @cases_total)`,
      )
      .run(row);
    return runRecord(row);
  }

  get(id: string): RunRecord | undefined {
    const row = this.db.prepare<[string], RunRow>('SELECT * FROM runs WHERE id = ?').get(id);
    return row && runRecord(row);
  }

  /** A run id may be abbreviated to any unique prefix. */
  find(idOrPrefix: string): RunRecord | undefined {
    const exact = this.get(idOrPrefix);
    if (exact) return exact;
    const rows = this.db
      .prepare<[string], RunRow>("SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 2")
      .all(`${idOrPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    return rows.length === 1 && rows[0] ? runRecord(rows[0]) : undefined;
  }

  list(): RunRecord[] {
    return this.db.prepare<[], RunRow>('SELECT * FROM runs ORDER BY created_at DESC').all().map(runRecord);
  }

  update(id: string, patch: Partial<Pick<RunRecord, 'status' | 'cases_total' | 'versions'>>): void {
    this.queue.flush();
    const { versions, ...plain } = patch;
    const columns: Record<string, string | number> = { ...plain };
    if (versions) columns['versions_json'] = JSON.stringify(versions);
    const sets = Object.keys(columns).map((k) => `${k} = @${k}`);
    this.db
      .prepare(`UPDATE runs SET ${[...sets, 'updated_at = @updated_at'].join(', ')} WHERE id = @id`)
      .run({ ...columns, id, updated_at: new Date().toISOString() });
  }

  delete(id: string): void {
    this.queue.flush();
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
  replace(from: string, to: string): void {
    this.queue.flush();
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
}
