import type Database from 'better-sqlite3';

/**
 * Provider batches (batch delivery, src/batch/): one row per batch submitted to a provider's batch API, written
 * the moment the provider answers with its id, so a batch outlives the process that submitted it. A later
 * `run` of the same run finds the batch here and polls it instead of submitting its requests again. Each
 * request's `custom_id` is its response-cache key, so a request of a resumed run is matched to the batch that
 * already holds it. Rows are written directly (not through the journal): one per batch, not per request.
 */

export const BATCH_SCHEMA = `
CREATE TABLE IF NOT EXISTS batches (
  id TEXT PRIMARY KEY, run_id TEXT NOT NULL, provider TEXT NOT NULL, endpoint TEXT NOT NULL,
  target TEXT NOT NULL, url TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'collected')),
  provider_status TEXT, requests INTEGER NOT NULL, custom_ids_json TEXT NOT NULL, input_file_id TEXT,
  submitted_at TEXT NOT NULL, updated_at TEXT NOT NULL, ended_at TEXT, error TEXT
);
CREATE INDEX IF NOT EXISTS batches_run ON batches(run_id, state);
`;

export type BatchState = 'pending' | 'collected';

export interface BatchRow {
  /** The provider's batch id (`batch_...`, `msgbatch_...`). */
  id: string;
  run_id: string;
  /** `openai` or `anthropic`. */
  provider: string;
  /** The endpoint key (provider, server, model) of the target that submitted it. */
  endpoint: string;
  /** The target's id (or label). */
  target: string;
  /** The API path every request of the batch goes to (`/v1/chat/completions`, `/v1/messages`). */
  url: string;
  /** pending: submitted, results not collected yet; collected: its results (or failure) were read. */
  state: BatchState;
  /** The provider's last reported status (validating, in_progress, finalizing, completed, ended, ...). */
  provider_status: string | null;
  requests: number;
  /** The custom ids (response-cache keys) of its requests, as a JSON array. */
  custom_ids_json: string;
  input_file_id: string | null;
  submitted_at: string;
  updated_at: string;
  ended_at: string | null;
  error: string | null;
}

/** A stored batch with its custom ids parsed. */
export interface BatchRecord extends Omit<BatchRow, 'custom_ids_json'> {
  custom_ids: string[];
}

export type NewBatch = Omit<BatchRow, 'custom_ids_json' | 'updated_at' | 'ended_at' | 'error' | 'state'> & {
  custom_ids: string[];
};

function record(row: BatchRow): BatchRecord {
  const { custom_ids_json, ...rest } = row;
  return { ...rest, custom_ids: JSON.parse(custom_ids_json) as string[] };
}

/** The SQL side of provider batches, on the store's connection (see RunStore.batches). */
export class BatchRecords {
  constructor(
    private readonly db: Database.Database,
    opts: { readOnly?: boolean } = {},
  ) {
    if (!opts.readOnly) db.exec(BATCH_SCHEMA);
  }

  /** False for a store written before batches existed and opened read-only (nothing to list then). */
  private get present(): boolean {
    return (
      this.db
        .prepare<[], { n: number }>(
          "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'batches'",
        )
        .get()?.n === 1
    );
  }

  add(batch: NewBatch): void {
    const { custom_ids, ...rest } = batch;
    this.db
      .prepare(
        `INSERT INTO batches (id, run_id, provider, endpoint, target, url, state, provider_status, requests,
           custom_ids_json, input_file_id, submitted_at, updated_at, ended_at, error)
         VALUES (@id, @run_id, @provider, @endpoint, @target, @url, 'pending', @provider_status, @requests,
           @custom_ids_json, @input_file_id, @submitted_at, @submitted_at, NULL, NULL)`,
      )
      .run({ ...rest, custom_ids_json: JSON.stringify(custom_ids) });
  }

  /** Records the provider's latest status (a poll). */
  observe(id: string, providerStatus: string): void {
    this.db
      .prepare(
        'UPDATE batches SET provider_status = ?, updated_at = ? WHERE id = ? AND provider_status IS NOT ?',
      )
      .run(providerStatus, new Date().toISOString(), id, providerStatus);
  }

  /** The batch's results were read (or it ended without any): it is never polled again. */
  collected(id: string, providerStatus: string, error: string | null = null): void {
    const now = new Date().toISOString();
    this.db
      .prepare(
        "UPDATE batches SET state = 'collected', provider_status = ?, error = ?, ended_at = ?, updated_at = ? WHERE id = ?",
      )
      .run(providerStatus, error, now, now, id);
  }

  /** A run's batches still to collect for one endpoint, oldest first. */
  pending(runId: string, endpoint: string): BatchRecord[] {
    return this.db
      .prepare<[string, string], BatchRow>(
        "SELECT * FROM batches WHERE run_id = ? AND endpoint = ? AND state = 'pending' ORDER BY submitted_at, rowid",
      )
      .all(runId, endpoint)
      .map(record);
  }

  /** Every batch of a run, oldest first (runs show). */
  forRun(runId: string): BatchRecord[] {
    if (!this.present) return [];
    return this.db
      .prepare<[string], BatchRow>('SELECT * FROM batches WHERE run_id = ? ORDER BY submitted_at, rowid')
      .all(runId)
      .map(record);
  }

  deleteRun(runId: string): void {
    this.db.prepare('DELETE FROM batches WHERE run_id = ?').run(runId);
  }
}
