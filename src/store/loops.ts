import type Database from 'better-sqlite3';
import { redactConfig } from '../util/secrets.js';
import type { WriteQueue } from './write-queue.js';

/**
 * Loops (`refusenik loop`, the attack → train → re-attack loop): a loop's config and one record per stage
 * with the hash of its inputs and what it produced, so a stage is redone only when its inputs change.
 * Written at once (a stage is minutes, not milliseconds), not through the write queue.
 */

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

/** A loop to record: its config snapshot as a value (the store encodes it). */
export type NewLoop = Pick<LoopRow, 'id' | 'name' | 'config_file'> & { config: unknown };

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

export class LoopRecords {
  constructor(
    private readonly db: Database.Database,
    private readonly queue: Pick<WriteQueue, 'flush'>,
  ) {}

  put(loop: NewLoop): void {
    const { config, ...rest } = loop;
    const row = { ...rest, config_json: JSON.stringify(redactConfig(config)) };
    this.queue.flush();
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
  stages(loopId: string): LoopStage[] {
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

  startStage(loopId: string, name: string, position: number, inputKey: string): void {
    this.queue.flush();
    this.db
      .prepare(
        `INSERT OR REPLACE INTO loop_stages
           (loop_id, name, position, status, input_key, output_json, error, started_at, finished_at)
         VALUES (?, ?, ?, 'running', ?, NULL, NULL, ?, NULL)`,
      )
      .run(loopId, name, position, inputKey, new Date().toISOString());
  }

  finishStage(loopId: string, name: string, output: Record<string, unknown> | null, error?: string): void {
    this.queue.flush();
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
}
