import type { Generation, Prompt } from '../types.js';
import type { RunStore } from '../store/store.js';
import type { BatchRecord } from '../store/batches.js';
import { endpointKey, requestKey } from '../service/cache-key.js';
import { TargetError, type EndpointInfo, type GenerateOptions, type Target } from '../target/target.js';
import { sleep } from './http.js';
import type { BatchItem, BatchProtocol, ItemResult, RemoteBatch } from './protocol.js';

/**
 * A target whose calls go through a provider batch API. `generate` does not send anything: it puts the
 * request (the live target's body) in a queue, and resolves when the batch holding it has ended and its
 * answer was read. The runner asks for every case at once (a batch target's concurrency is the provider's
 * batch size), so the queue fills in one event-loop turn and is submitted as one batch (more when a batch
 * would exceed the provider's request or byte limit); the judges' requests, which come once the answers do,
 * make the second batch phase when their model is batched too.
 *
 * Each request's `custom_id` is its response-cache key. Every submitted batch is stored (run store table
 * `batches`) as soon as the provider answers with its id, so a later process of the same run that asks for
 * the same request finds the batch and polls it: a batch is never submitted twice. Requests of a batch that
 * expired, was cancelled or failed, and requests that failed for a transient reason, go into the next batch
 * (up to MAX_SUBMISSIONS times each); a request the provider refused fails alone, like a live call.
 */

/** How often one request is submitted (first batch and re-queues) before its error is final. */
export const MAX_SUBMISSIONS = 3;
/** A queue is submitted once this long passed without a new request (the runner's requests come in one turn). */
const COLLECT_MS = 40;

export interface BatchContext {
  store: RunStore | undefined;
  runId: string | undefined;
  /** false (`run --no-wait`): submitted requests end as `deferred` instead of being waited for. */
  wait: boolean;
}

interface Waiter {
  resolve: (g: Generation) => void;
  reject: (e: Error) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface Entry {
  item: BatchItem;
  path: string;
  bytes: number;
  waiters: Set<Waiter>;
  /** Batches this request was submitted in (this process and, for a stored batch, before). */
  submissions: number;
  batch: Batch | undefined;
  queued: boolean;
  lastError: TargetError | undefined;
}

interface Batch {
  id: string;
  path: string;
  entries: Map<string, Entry>;
  submittedAt: number;
  polling: boolean;
  /** `--no-wait`: polled once and still running; later requests for it are deferred at once. */
  deferred: boolean;
}

interface Queue {
  path: string;
  entries: Entry[];
  bytes: number;
  timer: NodeJS.Timeout | undefined;
  lastAdd: number;
}

export interface BatchTargetOptions {
  id: string;
  pollMs: number;
  /** Requests per batch (at most the provider's limit). */
  maxRequests: number;
}

export class BatchTarget implements Target {
  readonly id: string;
  readonly concurrency: number;
  readonly delivery = 'batch' as const;
  private readonly key: string;
  private readonly queues = new Map<string, Queue>();
  /** Every request this process is waiting for, by custom id. */
  private readonly entries = new Map<string, Entry>();
  private readonly batches = new Map<string, Batch>();
  /** The run's stored batches still to collect, by the custom ids they hold. */
  private stored = new Map<string, BatchRecord>();
  private ctx: BatchContext = { store: undefined, runId: undefined, wait: true };
  private closed = false;
  /** Collections under way: their batches are marked collected once the answers are journaled. */
  private readonly collecting = new Set<Promise<void>>();

  constructor(
    readonly endpoint: EndpointInfo,
    private readonly protocol: BatchProtocol,
    private readonly opts: BatchTargetOptions,
  ) {
    this.id = opts.id;
    this.key = endpointKey(endpoint);
    this.concurrency = Math.min(opts.maxRequests, protocol.maxRequests);
  }

  /** Where batches are recorded (the run store) and whether this process waits for them. */
  bind(ctx: BatchContext): void {
    this.ctx = ctx;
    this.stored = new Map();
    if (ctx.store && ctx.runId) {
      for (const b of ctx.store.batches.pending(ctx.runId, this.key))
        for (const id of b.custom_ids) this.stored.set(id, b);
    }
  }

  generate(prompt: Prompt, opts: GenerateOptions = {}): Promise<Generation> {
    let request: { path: string; body: Record<string, unknown> };
    try {
      request = this.protocol.request(prompt, opts);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const customId = requestKey(this.endpoint, prompt, opts);
    return new Promise<Generation>((resolve, reject) => {
      const signal = opts.signal;
      if (signal?.aborted) return reject(new TargetError('aborted', 'aborted'));
      if (this.closed) return reject(new TargetError('batch delivery is closed', 'aborted'));
      const waiter: Waiter = { resolve, reject, signal, onAbort: undefined };
      let entry = this.entries.get(customId);
      if (!entry) {
        const item = { customId, body: request.body };
        entry = {
          item,
          path: request.path,
          bytes: this.protocol.size(request.path, item),
          waiters: new Set(),
          submissions: 0,
          batch: undefined,
          queued: false,
          lastError: undefined,
        };
        this.entries.set(customId, entry);
        this.addWaiter(entry, waiter);
        const record = this.stored.get(customId);
        if (record && record.url === request.path) this.attach(entry, record);
        else this.enqueue(entry);
      } else {
        this.addWaiter(entry, waiter);
        // Its batch stopped being polled when nobody waited (an aborted case): someone waits again.
        if (entry.batch && this.ctx.wait && !entry.batch.polling && this.batches.has(entry.batch.id))
          void this.poll(entry.batch);
      }
      // A request in a batch this process does not wait for (`--no-wait`): a later run collects it.
      if (entry.batch && !this.ctx.wait && (entry.batch.deferred || !entry.batch.polling))
        this.settle(entry.waiters, undefined, deferred(entry.batch.id));
    });
  }

  /** Waits until every batch whose answers were handed out is recorded as collected. */
  async drain(): Promise<void> {
    while (this.collecting.size > 0) await Promise.allSettled([...this.collecting]);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const q of this.queues.values()) if (q.timer) clearTimeout(q.timer);
    for (const e of this.entries.values())
      this.settle(e.waiters, undefined, new TargetError('aborted', 'aborted'));
    await this.protocol.close();
  }

  // ---- waiters ---------------------------------------------------------------------------------------

  private addWaiter(entry: Entry, waiter: Waiter): void {
    entry.waiters.add(waiter);
    if (waiter.signal) {
      waiter.onAbort = (): void => {
        entry.waiters.delete(waiter);
        waiter.reject(new TargetError('aborted', 'aborted'));
        // A queued request nobody waits for any more is not sent.
        if (entry.waiters.size === 0 && entry.queued) this.unqueue(entry);
      };
      waiter.signal.addEventListener('abort', waiter.onAbort, { once: true });
    }
  }

  /** Resolves (or rejects) every waiter of a set and empties it. */
  private settle(waiters: Set<Waiter>, gen: Generation | undefined, err?: Error): void {
    const all = [...waiters];
    waiters.clear();
    for (const w of all) {
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
      if (gen) w.resolve({ ...gen });
      else w.reject(err ?? new TargetError('no answer', 'protocol'));
    }
  }

  // ---- queue and submission ---------------------------------------------------------------------------

  private enqueue(entry: Entry): void {
    let q = this.queues.get(entry.path);
    if (!q) {
      q = { path: entry.path, entries: [], bytes: 0, timer: undefined, lastAdd: 0 };
      this.queues.set(entry.path, q);
    }
    const max = this.concurrency;
    // Within the provider's limits: a full queue is submitted before this request starts the next one.
    if (q.entries.length > 0 && (q.entries.length >= max || q.bytes + entry.bytes > this.protocol.maxBytes))
      this.flush(q);
    entry.queued = true;
    entry.batch = undefined;
    q.entries.push(entry);
    q.bytes += entry.bytes;
    q.lastAdd = performance.now();
    q.timer ??= setTimeout(() => this.onTimer(q), COLLECT_MS);
  }

  private unqueue(entry: Entry): void {
    const q = this.queues.get(entry.path);
    entry.queued = false;
    this.entries.delete(entry.item.customId);
    if (!q) return;
    const i = q.entries.indexOf(entry);
    if (i >= 0) {
      q.entries.splice(i, 1);
      q.bytes -= entry.bytes;
    }
  }

  private onTimer(q: Queue): void {
    q.timer = undefined;
    const quiet = performance.now() - q.lastAdd;
    if (quiet < COLLECT_MS) {
      q.timer = setTimeout(() => this.onTimer(q), COLLECT_MS - quiet);
      return;
    }
    this.flush(q);
  }

  /** Submits what the queue holds as one batch. */
  private flush(q: Queue): void {
    if (q.timer) {
      clearTimeout(q.timer);
      q.timer = undefined;
    }
    const entries = q.entries.filter((e) => e.waiters.size > 0);
    q.entries = [];
    q.bytes = 0;
    for (const e of entries) e.queued = false;
    if (entries.length === 0 || this.closed) return;
    void this.submit(q.path, entries);
  }

  private async submit(path: string, entries: Entry[]): Promise<void> {
    let created: { id: string; status: string; inputFileId: string | null };
    try {
      created = await this.protocol.submit(
        path,
        entries.map((e) => e.item),
      );
    } catch (err) {
      const error = err instanceof TargetError ? err : new TargetError(String(err), 'network');
      for (const e of entries) {
        this.entries.delete(e.item.customId);
        this.settle(e.waiters, undefined, error);
      }
      return;
    }
    // Stored at once: from here on, a later process polls this batch instead of submitting these requests.
    const { store, runId } = this.ctx;
    if (store && runId) {
      store.batches.add({
        id: created.id,
        run_id: runId,
        provider: this.protocol.provider,
        endpoint: this.key,
        target: this.id,
        url: path,
        provider_status: created.status,
        requests: entries.length,
        custom_ids: entries.map((e) => e.item.customId),
        input_file_id: created.inputFileId,
        submitted_at: new Date().toISOString(),
      });
    }
    const batch: Batch = {
      id: created.id,
      path,
      entries: new Map(entries.map((e) => [e.item.customId, e])),
      submittedAt: Date.now(),
      polling: false,
      deferred: false,
    };
    this.batches.set(batch.id, batch);
    for (const e of entries) {
      e.batch = batch;
      e.submissions++;
    }
    if (this.ctx.wait) void this.poll(batch);
    else {
      batch.deferred = true;
      for (const e of entries) this.settle(e.waiters, undefined, deferred(batch.id));
    }
  }

  /** A request of a batch an earlier process submitted: poll that batch (never submit it again). */
  private attach(entry: Entry, record: BatchRecord): void {
    let batch = this.batches.get(record.id);
    if (!batch) {
      batch = {
        id: record.id,
        path: record.url,
        entries: new Map(),
        submittedAt: Date.parse(record.submitted_at) || Date.now(),
        polling: false,
        deferred: false,
      };
      this.batches.set(batch.id, batch);
    }
    batch.entries.set(entry.item.customId, entry);
    entry.batch = batch;
    entry.submissions = 1;
    if (!batch.polling && !batch.deferred) void this.poll(batch);
  }

  // ---- polling and results ----------------------------------------------------------------------------

  private waited(batch: Batch): boolean {
    for (const e of batch.entries.values()) if (e.waiters.size > 0) return true;
    return false;
  }

  private async poll(batch: Batch): Promise<void> {
    batch.polling = true;
    try {
      for (;;) {
        // Nobody waits any more (Ctrl-C, the run stopped): stop polling; the batch stays stored as pending.
        if (!this.waited(batch) || this.closed) return;
        const remote = await this.protocol.retrieve(batch.id);
        this.ctx.store?.batches.observe(batch.id, remote.status);
        if (remote.ended) {
          const done = this.collect(batch, remote);
          this.collecting.add(done);
          try {
            await done;
          } finally {
            this.collecting.delete(done);
          }
          return;
        }
        if (!this.ctx.wait) {
          batch.deferred = true;
          for (const e of batch.entries.values()) this.settle(e.waiters, undefined, deferred(batch.id));
          return;
        }
        await sleep(this.opts.pollMs);
      }
    } catch (err) {
      const error = err instanceof TargetError ? err : new TargetError(String(err), 'network');
      // The batch stays stored as pending: the next run polls it again.
      for (const e of batch.entries.values()) {
        this.entries.delete(e.item.customId);
        this.settle(e.waiters, undefined, error);
      }
      this.batches.delete(batch.id);
    } finally {
      batch.polling = false;
    }
  }

  private async collect(batch: Batch, remote: RemoteBatch): Promise<void> {
    const results = await this.protocol.results(remote, batch.path);
    this.batches.delete(batch.id);
    const answered: [Entry, Generation][] = [];
    const failed: [Entry, ItemResult | undefined][] = [];
    for (const e of batch.entries.values()) {
      const r = results.get(e.item.customId);
      if (r?.ok) answered.push([e, r.generation]);
      else failed.push([e, r]);
    }
    const latencyMs = Math.max(0, Date.now() - batch.submittedAt);
    // Answers first: a run whose first settled requests all failed would take the target for dead.
    for (const [e, gen] of answered) {
      this.entries.delete(e.item.customId);
      this.settle(e.waiters, { ...gen, latencyMs, attempts: e.submissions });
    }
    for (const [e, r] of failed) {
      const error =
        r && !r.ok
          ? r.error
          : new TargetError(
              `batch ${batch.id} ended (${remote.status}${remote.error ? `: ${remote.error}` : ''}) without an answer to this request`,
              remote.status === 'expired' ? 'timeout' : 'http',
            );
      const retry = r ? !r.ok && r.retry : true;
      if (retry && e.submissions < MAX_SUBMISSIONS && e.waiters.size > 0 && !this.closed) {
        // Only the unfinished requests go into the next batch.
        e.lastError = error;
        this.enqueue(e);
      } else {
        this.entries.delete(e.item.customId);
        this.settle(e.waiters, undefined, withAttempts(error, e.submissions));
      }
    }
    // The answers reach the store's journal at the end of this turn (the runner writes them as they resolve):
    // only then is the batch marked collected, so a kill in between polls it again rather than losing them.
    await new Promise<void>((r) => setImmediate(r));
    await new Promise<void>((r) => setImmediate(r));
    const { store } = this.ctx;
    if (store) {
      store.flush();
      store.batches.collected(batch.id, remote.status, remote.error ?? null);
    }
    for (const id of batch.entries.keys()) this.stored.delete(id);
  }
}

function deferred(batchId: string): TargetError {
  return new TargetError(
    `waiting in provider batch ${batchId} (run --no-wait); the same run command collects it`,
    'deferred',
  );
}

function withAttempts(err: TargetError, attempts: number): TargetError {
  return new TargetError(err.message, err.kind, err.status, attempts);
}
