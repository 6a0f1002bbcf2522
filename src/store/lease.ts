import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type Database from 'better-sqlite3';
import { UserError } from '../errors.js';
import type { RunRow, RunStatus } from './records.js';

/**
 * One writer per run. A process that writes a run (run, suite, import, the transition and retention probes)
 * first takes the run's lease: a row in `run_leases` naming its pid, host and start time, taken in a
 * `BEGIN IMMEDIATE` transaction so two processes cannot both see "free" and both take it. The holder
 * refreshes a heartbeat on an unref'd timer and deletes the row when it ends. A holder that died (SIGKILL,
 * power cut) leaves its row behind; the row counts as expired when its heartbeat is older than `staleMs`, or
 * at once when the holder was on this host and its pid is gone. A second process on a live lease is refused
 * with a message naming the holder.
 */

export const LEASE_STALE_MS = 30_000;
export const LEASE_HEARTBEAT_MS = 5_000;

export const LEASE_SCHEMA = `
CREATE TABLE IF NOT EXISTS run_leases (
  run_id TEXT PRIMARY KEY, token TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL,
  started_at TEXT NOT NULL, heartbeat_at TEXT NOT NULL
);
`;

export interface LeaseRow {
  run_id: string;
  token: string;
  pid: number;
  host: string;
  started_at: string;
  heartbeat_at: string;
}

export interface LeaseOptions {
  /** A lease whose heartbeat is older than this has expired (default 30 s). */
  staleMs?: number;
  /** How often the holder refreshes its heartbeat (default 5 s). */
  heartbeatMs?: number;
}

/** Another live process holds the run (exit code 1: nothing is wrong with the input; try again later). */
export class RunBusyError extends UserError {
  constructor(
    readonly runId: string,
    readonly holder: LeaseRow,
  ) {
    const age = Math.max(0, Math.round((Date.now() - Date.parse(holder.heartbeat_at)) / 1000));
    super(
      `run ${runId} is being written by another process: pid ${holder.pid} on ${holder.host}, ` +
        `since ${holder.started_at} (last heartbeat ${age} s ago). Wait for it to finish, or stop it ` +
        `(kill ${holder.pid}); a dead holder's lease expires after ${LEASE_STALE_MS / 1000} s`,
      { exitCode: 1 },
    );
    this.name = 'RunBusyError';
  }
}

/** Whether a process with this pid exists on this host (EPERM: it exists, owned by someone else). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a lease row still stands for a live writer. */
export function leaseIsLive(row: LeaseRow, staleMs = LEASE_STALE_MS, now = Date.now()): boolean {
  if (now - Date.parse(row.heartbeat_at) > staleMs) return false;
  if (row.host === os.hostname() && !pidAlive(row.pid)) return false;
  return true;
}

/** The SQL side of leases, on the store's connection (the store builds one; see RunStore.leases). */
export class RunLeases {
  private readonly get: Database.Statement<[string], LeaseRow>;

  /** `readOnly`: a read-only store connection, whose schema is checked elsewhere (RunStore.openReadOnly). */
  constructor(
    private readonly db: Database.Database,
    opts: { readOnly?: boolean } = {},
  ) {
    if (!opts.readOnly) db.exec(LEASE_SCHEMA);
    this.get = db.prepare('SELECT * FROM run_leases WHERE run_id = ?');
  }

  /** The lease row of a run, live or not. */
  holder(runId: string): LeaseRow | undefined {
    return this.get.get(runId);
  }

  /** The live holder of a run, if any. */
  liveHolder(runId: string, staleMs = LEASE_STALE_MS): LeaseRow | undefined {
    const row = this.holder(runId);
    return row && leaseIsLive(row, staleMs) ? row : undefined;
  }

  /**
   * Takes the run's lease for this process, or throws RunBusyError naming the live holder. An expired
   * lease is taken over.
   */
  acquire(runId: string, opts: LeaseOptions = {}): RunLease {
    const staleMs = opts.staleMs ?? LEASE_STALE_MS;
    const now = new Date().toISOString();
    const row: LeaseRow = {
      run_id: runId,
      token: randomUUID(),
      pid: process.pid,
      host: os.hostname(),
      started_at: now,
      heartbeat_at: now,
    };
    const take = this.db.transaction(() => {
      const current = this.holder(runId);
      if (current && leaseIsLive(current, staleMs)) throw new RunBusyError(runId, current);
      this.db
        .prepare(
          `INSERT OR REPLACE INTO run_leases (run_id, token, pid, host, started_at, heartbeat_at)
           VALUES (@run_id, @token, @pid, @host, @started_at, @heartbeat_at)`,
        )
        .run(row);
    });
    // IMMEDIATE: the write lock is taken before the read, so the check and the insert are one step.
    take.immediate();
    return new RunLease(this.db, row, opts.heartbeatMs ?? LEASE_HEARTBEAT_MS);
  }
}

/** A held lease: heartbeats until released. */
export class RunLease {
  private timer: NodeJS.Timeout | undefined;
  private readonly lostController = new AbortController();
  /** True once another process took the lease over (this one stalled past the stale limit). */
  lost = false;
  /** Aborted when the lease is lost: the holder stops writing, the new holder carries on. */
  readonly signal = this.lostController.signal;

  constructor(
    private readonly db: Database.Database,
    readonly row: LeaseRow,
    heartbeatMs: number,
  ) {
    this.timer = setInterval(() => this.beat(), heartbeatMs);
    // The heartbeat never keeps a finished process alive.
    this.timer.unref();
  }

  get runId(): string {
    return this.row.run_id;
  }

  /** Refreshes the heartbeat; a lease taken over by someone else is marked lost and not refreshed. */
  beat(): void {
    if (this.lost || !this.db.open) return;
    try {
      const r = this.db
        .prepare('UPDATE run_leases SET heartbeat_at = ? WHERE run_id = ? AND token = ?')
        .run(new Date().toISOString(), this.row.run_id, this.row.token);
      if (r.changes === 0) {
        this.lost = true;
        process.stderr.write(
          `refusenik: the lease on run ${this.row.run_id} was taken over by another process; stopping\n`,
        );
        this.lostController.abort();
      }
    } catch {
      // A busy store: the next beat retries; a lease only expires after many missed beats.
    }
  }

  release(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.db.open) return;
    this.db
      .prepare('DELETE FROM run_leases WHERE run_id = ? AND token = ?')
      .run(this.row.run_id, this.row.token);
  }
}

/**
 * The status to show for a run: a run with a live writer is `running`; one stored as `running` with no live
 * writer was killed or lost its machine, and reads `interrupted` (its stored status is left as is; the next
 * writer resumes it).
 */
export function observedStatus(leases: RunLeases, run: Pick<RunRow, 'id' | 'status'>): RunStatus {
  if (leases.liveHolder(run.id)) return 'running';
  return run.status === 'running' ? 'interrupted' : run.status;
}
