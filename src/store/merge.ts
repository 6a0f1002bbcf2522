import { copyFileSync, existsSync, mkdtempSync, realpathSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { InputError } from '../errors.js';
import { shardOf, type ShardInfo } from './shard.js';
import { RunBusyError } from './lease.js';
import { CASE_COLUMNS, REQUEST_COLUMNS, VERDICT_COLUMNS } from './rows.js';
import { RunStore, type RunRecord } from './store.js';

/**
 * `refusenik runs merge <stores...> --db <out>` (issue 24 item 3): the stores of one run's shards (each
 * written by `run --shard i/n` on its own machine) combined into one run in `out`, as if one machine had run
 * it: every case once, its verdicts, its request log and labels, the response cache. The stores must hold
 * the same run: the same config (hash) on the same dataset (sha256), else the merge is refused naming each
 * store and its hashes. A case finished in two stores (a shard run twice, or a whole run merged with a
 * shard) is kept once: an answered copy before an errored one, else the first store's, with that copy's
 * verdicts and requests; merging the same stores again gives the same run. `out` is never one of the
 * inputs. The merge is staged under a temporary run id and published in one transaction: readers see the
 * old run (with --replace) or the new one, never a part.
 */

export interface MergeOptions {
  inputs: string[];
  out: string;
  /** The run to merge (id or unique prefix) when a store holds several. */
  run?: string;
  /** Replace the run if `out` already holds it (else that is an error). */
  replace?: boolean;
}

export interface MergedInput {
  store: string;
  shard: string | null;
  status: string;
  cases: number;
  /** Of its cases, those the merged run took from this store (the others were in an earlier store too). */
  kept: number;
}

export interface MergeResult {
  run_id: string;
  db: string;
  status: 'complete' | 'incomplete';
  /** Cases of the whole plan, and how many the merged run holds. */
  plan_cases: number;
  cases: number;
  ok: number;
  errors: number;
  verdicts: number;
  /** Cases found in more than one store, kept once. */
  duplicates: number;
  /** Shard indexes of an n-way split that no input holds. */
  missing_shards: number[];
  inputs: MergedInput[];
}

interface Input {
  file: string;
  run: RunRecord;
  shard: ShardInfo | undefined;
  cases: number;
}

export function mergeStores(opts: MergeOptions): MergeResult {
  if (opts.inputs.length === 0)
    throw new InputError('give the stores to merge: runs merge <stores...> --db <out>');
  assertNotAnInput(opts.out, opts.inputs);
  const inputs = opts.inputs.map((file) => readInput(file, opts.run));
  assertSameRun(inputs);
  const first = inputs[0] as Input;
  const runId = first.run.id;

  // The output store: created (or upgraded, its journals applied) by the store itself, then written here.
  const store = RunStore.open(opts.out);
  try {
    const holder = store.leases.liveHolder(runId);
    if (holder) throw new RunBusyError(runId, holder);
    if (store.getRun(runId) && !opts.replace)
      throw new InputError(
        `${opts.out} already holds run ${runId}: merge into a new file, or pass --replace to replace it`,
        { file: opts.out },
      );
  } finally {
    store.close();
  }

  const db = new Database(opts.out);
  try {
    db.pragma('busy_timeout = 10000');
    // The merge keeps its rows consistent itself (cases before their verdicts; one rename at the end).
    db.pragma('foreign_keys = OFF');
    return merge(db, inputs, opts, runId);
  } finally {
    db.close();
  }
}

function merge(db: Database.Database, inputs: Input[], opts: MergeOptions, runId: string): MergeResult {
  const first = inputs[0] as Input;
  const staging = `${runId}.merging`;
  dropRun(db, staging);
  db.exec('CREATE TEMP TABLE IF NOT EXISTS merge_origin (case_id TEXT PRIMARY KEY, src INTEGER NOT NULL)');
  db.exec('DELETE FROM temp.merge_origin');

  const now = new Date().toISOString();
  const created = inputs.map((i) => i.run.created_at).sort()[0] as string;
  db.prepare(
    `INSERT INTO runs (id, name, created_at, updated_at, status, config_json, config_hash, config_file, versions_json, cases_total)
     VALUES (?, ?, ?, ?, 'running', '{}', ?, ?, '{}', 0)`,
  ).run(staging, first.run.name, created, now, first.run.config_hash, first.run.config_file);

  const caseCols = CASE_COLUMNS.join(', ');
  const caseSel = CASE_COLUMNS.map((c) => (c === 'run_id' ? '? AS run_id' : `c.${c}`)).join(', ');
  const verdictCols = VERDICT_COLUMNS.join(', ');
  const verdictSel = VERDICT_COLUMNS.map((c) => (c === 'run_id' ? '? AS run_id' : `v.${c}`)).join(', ');
  const requestCols = REQUEST_COLUMNS.join(', ');
  const requestSel = REQUEST_COLUMNS.map((c) => (c === 'run_id' ? '? AS run_id' : `r.${c}`)).join(', ');

  // Answered copies first, from every store in order, then errored ones for cases no store answered.
  for (const status of ['ok', 'error'] as const) {
    inputs.forEach((input, k) =>
      withAttached(db, input.file, () => {
        db.prepare(
          `INSERT OR IGNORE INTO temp.merge_origin (case_id, src)
           SELECT case_id, ? FROM src.cases WHERE run_id = ? AND status = ?`,
        ).run(k, input.run.id, status);
        db.prepare(
          `INSERT INTO main.cases (${caseCols}) SELECT ${caseSel}
           FROM src.cases c JOIN temp.merge_origin o ON o.case_id = c.case_id AND o.src = ?
           WHERE c.run_id = ? AND c.status = ?`,
        ).run(staging, k, input.run.id, status);
      }),
    );
  }
  // Each kept case's verdicts, requests and labels come from the store its row came from.
  const kept: number[] = [];
  inputs.forEach((input, k) =>
    withAttached(db, input.file, () => {
      kept.push(
        db
          .prepare<[number], { n: number }>('SELECT COUNT(*) AS n FROM temp.merge_origin WHERE src = ?')
          .get(k)?.n ?? 0,
      );
      db.prepare(
        `INSERT OR IGNORE INTO main.verdicts (${verdictCols}) SELECT ${verdictSel}
         FROM src.verdicts v JOIN temp.merge_origin o ON o.case_id = v.case_id AND o.src = ?
         WHERE v.run_id = ?`,
      ).run(staging, k, input.run.id);
      db.prepare(
        `INSERT INTO main.requests (${requestCols}) SELECT ${requestSel}
         FROM src.requests r JOIN temp.merge_origin o ON o.case_id = r.case_id AND o.src = ?
         WHERE r.run_id = ?`,
      ).run(staging, k, input.run.id);
      // Calls of no case (none today, kept for what logs them) once each, however often a store is given.
      db.prepare(
        `INSERT INTO main.requests (${requestCols}) SELECT ${requestSel}
         FROM src.requests r WHERE r.run_id = ? AND r.case_id IS NULL AND NOT EXISTS (
           SELECT 1 FROM main.requests m WHERE m.run_id = ? AND m.case_id IS NULL AND m.created_at = r.created_at
             AND m.role = r.role AND m.source IS r.source AND m.target = r.target AND m.status = r.status
             AND m.latency_ms IS r.latency_ms)`,
      ).run(staging, input.run.id, staging);
      db.prepare(
        `INSERT OR IGNORE INTO main.labels (run_id, case_id, label, labeller, created_at)
         SELECT ?, l.case_id, l.label, l.labeller, l.created_at
         FROM src.labels l JOIN temp.merge_origin o ON o.case_id = l.case_id AND o.src = ? WHERE l.run_id = ?`,
      ).run(staging, k, input.run.id);
      // The response cache is keyed by request, never by run or replica: a merged run resumes from it.
      db.prepare(
        `INSERT OR IGNORE INTO main.cache (key, target, generation_json, created_at)
         SELECT key, target, generation_json, created_at FROM src.cache`,
      ).run();
    }),
  );

  const counts = db
    .prepare<[string], { cases: number; ok: number | null; errors: number | null }>(
      "SELECT COUNT(*) AS cases, SUM(status = 'ok') AS ok, SUM(status = 'error') AS errors FROM cases WHERE run_id = ?",
    )
    .get(staging) ?? { cases: 0, ok: 0, errors: 0 };
  const verdicts =
    db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM verdicts WHERE run_id = ?').get(staging)
      ?.n ?? 0;
  const planCases = Math.max(...inputs.map((i) => i.shard?.plan_cases ?? i.run.cases_total));
  const ok = counts.ok ?? 0;
  const errors = counts.errors ?? 0;
  const status = counts.cases >= planCases && errors === 0 ? 'complete' : 'incomplete';
  const mergedInputs: MergedInput[] = inputs.map((i, k) => ({
    store: i.file,
    shard: i.shard ? `${i.shard.index}/${i.shard.count}` : null,
    status: i.run.status,
    cases: i.cases,
    kept: kept[k] ?? 0,
  }));
  const { shard: _shard, ...versions } = first.run.versions;
  const configJson = withAttached(db, first.file, () =>
    db.prepare<[string], { config_json: string }>('SELECT config_json FROM src.runs WHERE id = ?').get(runId),
  )?.config_json;

  // Publish: the old run (with --replace) out, the staged one in, in one transaction.
  db.transaction(() => {
    dropRun(db, runId);
    db.prepare(
      `UPDATE runs SET id = ?, status = ?, cases_total = ?, config_json = ?, versions_json = ?, updated_at = ?
       WHERE id = ?`,
    ).run(
      runId,
      status,
      planCases,
      configJson ?? '{}',
      JSON.stringify({
        ...versions,
        merged_from: mergedInputs.map((i) => ({ store: i.store, shard: i.shard, cases: i.cases })),
      }),
      new Date().toISOString(),
      staging,
    );
    for (const table of ['cases', 'verdicts', 'requests', 'labels'])
      db.prepare(`UPDATE ${table} SET run_id = ? WHERE run_id = ?`).run(runId, staging);
  })();

  const counts0 = inputs.map((i) => i.shard?.count);
  const n = counts0[0];
  const missing =
    n !== undefined && counts0.every((c) => c === n)
      ? Array.from({ length: n }, (_, i) => i).filter((i) => !inputs.some((x) => x.shard?.index === i))
      : [];
  return {
    run_id: runId,
    db: opts.out,
    status,
    plan_cases: planCases,
    cases: counts.cases,
    ok,
    errors,
    verdicts,
    duplicates: inputs.reduce((s, i) => s + i.cases, 0) - counts.cases,
    missing_shards: missing,
    inputs: mergedInputs,
  };
}

/** Every row of a run, in the tables a run owns. */
function dropRun(db: Database.Database, runId: string): void {
  db.transaction(() => {
    for (const table of ['verdicts', 'labels', 'cases', 'requests'])
      db.prepare(`DELETE FROM ${table} WHERE run_id = ?`).run(runId);
    db.prepare('DELETE FROM runs WHERE id = ?').run(runId);
  })();
}

/**
 * Runs `fn` (in one transaction) with the store `file` attached as `src`. A store this process may not open
 * for writing (a read-only folder) is read from a private copy, as read-only commands do.
 */
function withAttached<T>(db: Database.Database, file: string, fn: () => T): T {
  let copyDir: string | undefined;
  try {
    db.prepare('ATTACH DATABASE ? AS src').run(file);
  } catch {
    copyDir = mkdtempSync(path.join(os.tmpdir(), 'refusenik-merge-'));
    const copy = path.join(copyDir, path.basename(file));
    copyFileSync(file, copy);
    if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, `${copy}-wal`);
    db.prepare('ATTACH DATABASE ? AS src').run(copy);
  }
  try {
    return db.transaction(fn)();
  } finally {
    db.exec('DETACH DATABASE src');
    if (copyDir) rmSync(copyDir, { recursive: true, force: true });
  }
}

/** One input store: its run (the only one, or the one named), checked finished-for-now and read. */
function readInput(file: string, runArg: string | undefined): Input {
  const store = RunStore.openReadOnly(file);
  try {
    let run: RunRecord | undefined;
    if (runArg !== undefined) {
      run = store.findRun(runArg);
      if (!run) throw new InputError(`no run '${runArg}' in this store (see: refusenik runs list)`, { file });
    } else {
      const runs = store.listRuns();
      if (runs.length === 0) throw new InputError('this store holds no run', { file });
      if (runs.length > 1)
        throw new InputError(
          `this store holds ${runs.length} runs (${runs.map((r) => r.id).join(', ')}): name the one to merge with --run <run-id>`,
          { file },
        );
      run = runs[0] as RunRecord;
    }
    const holder = store.leases.liveHolder(run.id);
    if (holder) throw new RunBusyError(run.id, holder);
    return { file, run, shard: shardOf(run), cases: store.counts(run.id).cases };
  } finally {
    store.close();
  }
}

/** The stores hold one run: the same config on the same dataset (and so the same run id). */
function assertSameRun(inputs: Input[]): void {
  const first = inputs[0] as Input;
  const dataset = (i: Input): string => String(i.run.versions['dataset_sha256'] ?? '?');
  const differs = inputs.some(
    (i) =>
      i.run.config_hash !== first.run.config_hash ||
      dataset(i) !== dataset(first) ||
      i.run.id !== first.run.id,
  );
  if (!differs) return;
  const lines = inputs.map(
    (i) =>
      `  ${i.file}: run ${i.run.id}, config sha256 ${i.run.config_hash.slice(0, 12)}, dataset sha256 ${dataset(i).slice(0, 12)}`,
  );
  const what =
    inputs.some((i) => i.run.config_hash !== first.run.config_hash) &&
    inputs.some((i) => dataset(i) !== dataset(first))
      ? 'different configs and datasets'
      : inputs.some((i) => i.run.config_hash !== first.run.config_hash)
        ? 'different configs'
        : inputs.some((i) => dataset(i) !== dataset(first))
          ? 'different datasets'
          : 'different runs of one config (one was started with --fresh)';
  throw new InputError(
    `these stores hold ${what}, not shards of one run; merge only the stores of one run's shards:\n${lines.join('\n')}`,
  );
}

/** `out` must not be one of the inputs (by path, symlink or hard link). */
function assertNotAnInput(out: string, inputs: string[]): void {
  const id = (f: string): string | undefined => {
    try {
      const s = statSync(f);
      return `${s.dev}:${s.ino}`;
    } catch {
      return undefined;
    }
  };
  const outId = id(out);
  const outReal = existsSync(out) ? realpathSync(out) : path.resolve(out);
  for (const input of inputs) {
    const same =
      path.resolve(input) === path.resolve(out) ||
      (existsSync(input) && realpathSync(input) === outReal) ||
      (outId !== undefined && id(input) === outId);
    if (same)
      throw new InputError(
        `--db ${out} is one of the stores to merge (${input}): write the merged run to a new file`,
        { file: out },
      );
  }
}
