import type Database from 'better-sqlite3';
import type { Generation } from '../types.js';
import { redactDeep, redactError } from '../util/secrets.js';
import { REQUEST_COLUMNS, rowTimestamp, type RequestLog } from './rows.js';
import type { WriteQueue } from './write-queue.js';

/**
 * The log of every model request a run made, and the response cache keyed by request hash: both written
 * through the write queue (a row per call, on the hot path). What the log adds up to is stats.ts's.
 */

/**
 * A run's whole request log (two parameters: the run id twice): the rows of `requests`, and the case rows
 * that are also the log entry of their one target call (`request_cost_usd` set). A cached call has no
 * token counts in the log (it cost nothing), as `ModelCalls` writes it.
 */
export const REQUEST_LOG_SQL = `
  SELECT role, target, cached, status, prompt_tokens, completion_tokens, cost_usd FROM requests WHERE run_id = ?
  UNION ALL
  SELECT 'target', target, cached, status,
         CASE WHEN cached = 1 THEN NULL ELSE prompt_tokens END, CASE WHEN cached = 1 THEN NULL ELSE completion_tokens END,
         request_cost_usd
  FROM cases WHERE run_id = ? AND request_cost_usd IS NOT NULL`;

export class RequestTables {
  private readonly cacheRow: Database.Statement<[string], { generation_json: string }>;

  constructor(
    db: Database.Database,
    private readonly queue: Pick<WriteQueue, 'add'>,
  ) {
    this.cacheRow = db.prepare('SELECT generation_json FROM cache WHERE key = ?');
  }

  log(row: RequestLog): void {
    const withTime = {
      ...row,
      error: redactError(row.error),
      created_at: rowTimestamp(),
      replica: row.replica ?? null,
    };
    this.queue.add(['request', REQUEST_COLUMNS.map((k) => withTime[k])]);
  }

  cacheGet(key: string): Generation | undefined {
    const row = this.cacheRow.get(key);
    return row ? (JSON.parse(row.generation_json) as Generation) : undefined;
  }

  cachePut(key: string, target: string, gen: Generation): void {
    const json = JSON.stringify(redactDeep(gen));
    const now = new Date().toISOString();
    this.queue.add(['cache', [key, target, json, now]]);
  }
}
