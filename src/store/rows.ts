import Database from 'better-sqlite3';

/**
 * The rows of the run store's hot tables (cases, verdicts, request log, response cache) and the one writer
 * that inserts them. The store applies them in-thread or hands them to its commit worker (commit-worker.ts);
 * both, and the replay of a killed writer's journal, go through `RowWriter`.
 */

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
  /**
   * Set (the call's USD cost) when this row is also the request-log entry of the case's answered target call
   * (single-turn attacks: role `target`, source `target`); NULL when its calls are rows of `requests`.
   */
  request_cost_usd: number | null;
  /** Which replica of a replica pool answered (its URL, credentials redacted); NULL otherwise. */
  replica?: string | null;
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
  /** Which replica of a replica pool answered (its URL, credentials redacted); NULL otherwise. */
  replica?: string | null;
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
    request_cost_usd: null,
    replica: null,
  };
}

let lastMs = -1;
let lastIso = '';

/** Now as an ISO-8601 string; a row timestamp is written twice per case, so one string serves each millisecond. */
export function rowTimestamp(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

/** A column value as SQLite binds it. */
export type Value = string | number | null;

/** One accepted row: its table and its values in that table's column order (positional binding is cheaper). */
export type Write = ['case' | 'verdict' | 'request' | 'cache', Value[]];

const WRITE_KINDS = new Set(['case', 'verdict', 'request', 'cache']);

export function isWrite(x: unknown): x is Write {
  return Array.isArray(x) && x.length === 2 && WRITE_KINDS.has(x[0] as string) && typeof x[1] === 'object';
}

export const CASE_COLUMNS = Object.keys(emptyCase()) as (keyof CaseRow)[];
export const VERDICT_COLUMNS: (keyof VerdictRow)[] = [
  'run_id',
  'case_id',
  'judge',
  'refusal',
  'harmful',
  'score',
  'reason',
  'error',
  'raw',
  'details_json',
  'inconclusive',
  'created_at',
];
export const REQUEST_COLUMNS: (keyof RequestLog | 'created_at')[] = [
  'run_id',
  'case_id',
  'role',
  'source',
  'target',
  'cached',
  'status',
  'latency_ms',
  'attempts',
  'finish_reason',
  'prompt_tokens',
  'completion_tokens',
  'cost_usd',
  'error',
  'created_at',
  'replica',
];

/** Cache rows: key, target, generation JSON, created_at. */
const CACHE_COLUMNS = ['key', 'target', 'generation_json', 'created_at'];

function insertSql(verb: string, table: string, columns: readonly string[]): string {
  return `${verb} INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
}

/** Inserts accepted rows; `commit` applies a batch and its journal markers in one transaction. */
export class RowWriter {
  private readonly put: Record<Write[0], Database.Statement<Value[]>>;
  private readonly markApplied: Database.Statement<[string]>;
  private readonly forgetApplied: Database.Statement<[string]>;
  private readonly isApplied: Database.Statement<[string], { value: string }>;

  constructor(private readonly db: Database.Database) {
    this.put = {
      case: db.prepare<Value[]>(insertSql('INSERT OR REPLACE', 'cases', CASE_COLUMNS)),
      verdict: db.prepare<Value[]>(insertSql('INSERT OR REPLACE', 'verdicts', VERDICT_COLUMNS)),
      request: db.prepare<Value[]>(insertSql('INSERT', 'requests', REQUEST_COLUMNS)),
      cache: db.prepare<Value[]>(insertSql('INSERT OR REPLACE', 'cache', CACHE_COLUMNS)),
    };
    this.markApplied = db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, '1')");
    this.forgetApplied = db.prepare('DELETE FROM meta WHERE key = ?');
    this.isApplied = db.prepare('SELECT value FROM meta WHERE key = ?');
  }

  /**
   * Applies `batch` in one transaction; `applied` names the journal file it came from (recorded, so a kill
   * before the file's unlink never applies it twice), `forget` an earlier marker whose file is gone.
   */
  commit(batch: readonly Write[], applied?: string, forget?: string): void {
    this.db.transaction(() => {
      for (const [kind, values] of batch) this.put[kind].run(...values);
      if (applied) this.markApplied.run(appliedKey(applied));
      if (forget) this.forgetApplied.run(appliedKey(forget));
    })();
  }

  /** Applies a dead writer's journal file unless its commit already happened (under a write lock). */
  replay(name: string, records: readonly unknown[]): void {
    this.db
      .transaction(() => {
        if (this.isApplied.get(appliedKey(name))) return;
        // A journal written before a column was added holds fewer values: the new columns are NULL.
        for (const r of records) if (isWrite(r)) this.put[r[0]].run(...padded(r));
      })
      .immediate();
    this.forgetApplied.run(appliedKey(name));
  }
}

const COLUMN_COUNT: Record<Write[0], number> = {
  case: CASE_COLUMNS.length,
  verdict: VERDICT_COLUMNS.length,
  request: REQUEST_COLUMNS.length,
  cache: CACHE_COLUMNS.length,
};

function padded([kind, values]: Write): Value[] {
  const n = COLUMN_COUNT[kind];
  return values.length >= n ? values : [...values, ...Array<Value>(n - values.length).fill(null)];
}

function appliedKey(journalName: string): string {
  return `applied:${journalName}`;
}
