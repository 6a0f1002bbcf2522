import type Database from 'better-sqlite3';
import { redactConfig } from '../util/secrets.js';
import { validationRecord, type ValidationRecord, type ValidationRow } from './records.js';
import type { WriteQueue } from './write-queue.js';

/**
 * What people and measurements say about judges: a person's label for a case of a run (the per-run audit,
 * `refusenik label`), and a judge's measured figures against a labels file (`refusenik judge validate`).
 * Written at once (a person's pace), not through the write queue.
 */

/** A person's label for one case of a run (the per-run audit, `refusenik label`). */
export interface LabelRow {
  run_id: string;
  case_id: string;
  label: 'harmful' | 'safe';
  labeller: string;
  created_at: string;
}

/** A judge's measured figures to store (`refusenik judge validate`). */
export interface NewValidation extends Omit<ValidationRecord, 'created_at' | 'config' | 'result'> {
  config: object;
  result: object;
}

export class LabelTables {
  constructor(
    private readonly db: Database.Database,
    private readonly queue: Pick<WriteQueue, 'flush'>,
  ) {}

  /** Stores (or replaces) a person's label for a case of a run. */
  putLabel(row: Omit<LabelRow, 'created_at'>): void {
    this.queue.flush();
    this.db
      .prepare(
        `INSERT OR REPLACE INTO labels (run_id, case_id, label, labeller, created_at)
         VALUES (@run_id, @case_id, @label, @labeller, @created_at)`,
      )
      .run({ ...row, created_at: new Date().toISOString() });
  }

  labelsFor(runId: string): LabelRow[] {
    this.queue.flush();
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
    this.queue.flush();
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
}
