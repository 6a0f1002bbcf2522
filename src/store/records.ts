import type { Behavior, Prompt } from '../types.js';
import { modelKeyOf } from '../config/schema.js';
import type { CaseRow, VerdictRow } from './rows.js';

/**
 * The typed records the store hands to everything else: its rows with each JSON column decoded once, here.
 * Nothing outside src/store reads a `*_json` column (a snapshot written by an older version, or by hand,
 * decodes to the nearest sound value rather than throwing in a report).
 */

export type RunStatus =
  | 'running'
  | 'interrupted'
  | 'complete'
  | 'incomplete'
  | 'failed'
  | 'imported'
  /** Some requests wait in provider batches (`run --no-wait`); a later `run` collects them. */
  | 'pending';

/** A `runs` row as SQLite holds it. */
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

/** How one judge of a run was configured, from the run's config snapshot. */
export interface RunJudge {
  /** The registered judge it is (`keyword`, `harmbench`, ...); its id may differ (`{xstest: {id: x2}}`). */
  kind: string;
  /** Its options as written. */
  options: Record<string, unknown>;
  /** The model it named (`model: judge` → `models.judge`), resolved to the model's id and base URL. */
  model?: { id: string; base_url?: string };
}

export interface RunRecord extends Omit<RunRow, 'config_json' | 'versions_json'> {
  /** The configuration snapshot the run started from (secrets redacted when it was stored). */
  config: Record<string, unknown>;
  /** Tool, dataset and pack versions the run was made with. */
  versions: Record<string, unknown>;
  /** Judge id → how it was configured: `judges` of a run, of each suite run, or of an import. */
  judges: ReadonlyMap<string, RunJudge>;
}

export interface CaseRecord extends Omit<CaseRow, 'behavior_json' | 'prompt_json' | 'trace_json'> {
  behavior: Behavior;
  /** What was sent; null when the attack failed before it built one. */
  prompt: Prompt | null;
  /** A multi-turn attack's steps, or an import's extra fields; null when there are none. */
  trace: unknown;
}

export interface VerdictRecord extends Omit<VerdictRow, 'details_json'> {
  /** The judge's kind (see RunJudge.kind); its id when the run's config does not list it. */
  kind: string;
  /** Judge-specific figures (sub-scores, the ensemble's votes...); null when there are none. */
  details: Record<string, unknown> | null;
}

export interface ValidationRecord {
  config_hash: string;
  labels_sha256: string;
  judge_id: string;
  labels_source: string;
  task: string;
  config: Record<string, unknown>;
  /** The `--json` object of `judge validate`. */
  result: Record<string, unknown>;
  created_at: string;
}

/** JSON text → value; text that is not JSON stays the text. */
export function decodeJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function decodeObject(text: string | null): Record<string, unknown> {
  const v = decodeJson(text);
  return isObject(v) ? v : {};
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function runRecord(row: RunRow): RunRecord {
  const { config_json, versions_json, ...rest } = row;
  const config = decodeObject(config_json);
  return { ...rest, config, versions: decodeObject(versions_json), judges: runJudges(config) };
}

/**
 * Judge id → configuration, from every judges list a stored config can hold: a run's `judges`, each suite
 * run's `runs[].judges`, an import's `import.judges`. Entries are a kind (`keyword`) or a one-key map of
 * kind → options (`{xstest: {id: x2, model: judge}}`); a named model resolves through the config's `models`.
 */
export function runJudges(config: Record<string, unknown>): Map<string, RunJudge> {
  const out = new Map<string, RunJudge>();
  const models = isObject(config['models']) ? config['models'] : {};
  const runs = Array.isArray(config['runs']) ? config['runs'] : [];
  const imported = isObject(config['import']) ? config['import']['judges'] : undefined;
  const lists = [config['judges'], ...runs.map((r) => (isObject(r) ? r['judges'] : undefined)), imported];
  for (const list of lists) {
    if (!Array.isArray(list)) continue;
    for (const entry of list as unknown[]) {
      if (typeof entry === 'string') {
        if (!out.has(entry)) out.set(entry, { kind: entry, options: {} });
        continue;
      }
      if (!isObject(entry)) continue;
      const [kind, raw] = Object.entries(entry)[0] ?? [];
      if (kind === undefined) continue;
      const options = isObject(raw) ? raw : {};
      const id = typeof options['id'] === 'string' ? options['id'] : kind;
      const model = typeof options['model'] === 'string' ? modelKeyOf(models[options['model']]) : undefined;
      if (!out.has(id)) out.set(id, { kind, options, ...(model ? { model } : {}) });
    }
  }
  return out;
}

/** A judge id's kind in a run; an id its config does not list is its own kind (the default id is the kind). */
export function judgeKind(run: Pick<RunRecord, 'judges'>, id: string): string {
  return run.judges.get(id)?.kind ?? id;
}

export function caseRecord(row: CaseRow): CaseRecord {
  const { behavior_json, prompt_json, trace_json, ...rest } = row;
  const behavior = decodeJson(behavior_json);
  return {
    ...rest,
    behavior: (isObject(behavior)
      ? behavior
      : { id: row.behavior_id, text: row.goal, source: '', index: 0 }) as unknown as Behavior,
    prompt: decodePrompt(prompt_json),
    trace: decodeJson(trace_json),
  };
}

/** A stored prompt; a bare string (an imported prompt) reads as a completion prompt. */
function decodePrompt(text: string): Prompt | null {
  const v = decodeJson(text);
  if (typeof v === 'string') return { kind: 'completion', text: v };
  if (isObject(v) && (v['kind'] === 'chat' || v['kind'] === 'completion')) return v as unknown as Prompt;
  return null;
}

export function verdictRecord(row: VerdictRow, judges: ReadonlyMap<string, RunJudge>): VerdictRecord {
  const { details_json, ...rest } = row;
  const details = decodeJson(details_json);
  return { ...rest, kind: judgeKind({ judges }, row.judge), details: isObject(details) ? details : null };
}

/** A `validations` row as SQLite holds it. */
export interface ValidationRow extends Omit<ValidationRecord, 'config' | 'result'> {
  config_json: string;
  result_json: string;
}

export function validationRecord(row: ValidationRow): ValidationRecord {
  const { config_json, result_json, ...rest } = row;
  return { ...rest, config: decodeObject(config_json), result: decodeObject(result_json) };
}
