import { RuntimeFailure } from '../errors.js';
import type { RunLease } from '../store/lease.js';
import type { RunRecord, RunStatus, RunStore } from '../store/store.js';
import { canonicalJson, sha256 } from '../util/hash.js';

/**
 * The lifecycle of a stored run, one for every writer (`run`, `suite run`, `import`, the transition and
 * retention probes, the loop's runs): take the run's lease (one writer per run, its heartbeat kept until the
 * end: store/lease.ts), register the run with its config snapshot and versions or mark the stored one
 * running again, do the work, and record how it ended (`failed` when the work threw). A writer whose lease
 * another process took over (it stalled past the lease's expiry) sees `signal` abort: it stops like an
 * interrupted run, or at once (`assertHeld`), and writes no status after that.
 */

/** What a run is registered with the first time. */
export interface RunRegistration {
  /** The row to create (default: the leased run; an import builds its replacement beside it). */
  id?: string;
  name: string | null;
  /** The config snapshot stored with the run (the store redacts secrets in it). */
  config: unknown;
  /** Default: the sha256 of the snapshot's canonical JSON. */
  configHash?: string;
  configFile: string | null;
  versions: Record<string, unknown>;
  casesTotal: number;
}

export class StoredRun {
  /** Aborted on the caller's signal, or when another process takes the run's lease over. */
  readonly signal: AbortSignal;

  constructor(
    readonly store: RunStore,
    private readonly lease: RunLease,
    signal?: AbortSignal,
  ) {
    this.signal = signal ? AbortSignal.any([signal, lease.signal]) : lease.signal;
  }

  get id(): string {
    return this.lease.runId;
  }

  /** True once another process took the lease over. */
  get lost(): boolean {
    return this.lease.lost;
  }

  /** The run as stored (undefined before it is registered). */
  stored(id = this.id): RunRecord | undefined {
    return this.store.getRun(id);
  }

  /** Registers a new run, status `running`. */
  register(r: RunRegistration): void {
    this.store.createRun({
      id: r.id ?? this.id,
      name: r.name,
      status: 'running',
      config: r.config,
      config_hash: r.configHash ?? sha256(canonicalJson(r.config)),
      config_file: r.configFile,
      versions: r.versions,
      cases_total: r.casesTotal,
    });
  }

  /** Marks a stored run running again (with its cases total as planned now, when given). */
  resume(casesTotal?: number): void {
    this.store.updateRun(this.id, {
      status: 'running',
      ...(casesTotal !== undefined ? { cases_total: casesTotal } : {}),
    });
  }

  /** Registers the run if the store lacks it, else resumes it. */
  open(r: RunRegistration): void {
    if (this.stored()) this.resume();
    else this.register(r);
  }

  /** Records how the run ended (or where it stands). */
  close(status: RunStatus, id = this.id): void {
    this.store.updateRun(id, { status });
  }

  /**
   * The run's work: the run is closed with the status `statusOf` reads from what the work returns, or as
   * `failed` when it throws (unless the lease was lost: the new holder owns the row).
   */
  async execute<T, S extends RunStatus>(
    work: () => Promise<T>,
    statusOf: (result: T) => S,
  ): Promise<{ result: T; status: S }> {
    let result: T;
    try {
      result = await work();
    } catch (err) {
      if (!this.lost) this.close('failed');
      throw err;
    }
    const status = statusOf(result);
    this.close(status);
    return { result, status };
  }

  /** Throws when another process took the run over: `what` (`import`, `transition`) stops writing. */
  assertHeld(what: string): void {
    if (this.lost)
      throw new RuntimeFailure(`${what} ${this.id}: another process took over its lease; stopped`);
  }
}

/**
 * `body` as the one writer of run `runId` in `store`: the run's lease is taken first (a live holder elsewhere:
 * RunBusyError, naming it) and released when `body` ends, however it ends.
 */
export async function withStoredRun<T>(
  store: RunStore,
  runId: string,
  signal: AbortSignal | undefined,
  body: (run: StoredRun) => Promise<T>,
): Promise<T> {
  const lease = store.leases.acquire(runId);
  try {
    return await body(new StoredRun(store, lease, signal));
  } finally {
    lease.release();
  }
}
