import path from 'node:path';
import type Database from 'better-sqlite3';
import { PendingJournal } from './journal.js';
import { CommitThread } from './commit-thread.js';
import { RowWriter, type Write } from './rows.js';

/**
 * The store's write path for its hot rows (cases, verdicts, request log, response cache), off the request
 * loop: each accepted row is appended to a journal file at the end of the current event-loop turn (one
 * write(2) for the turn's rows; see journal.ts) and committed to SQLite in large batches, in-thread or by a
 * worker thread with its own connection (commit-worker.ts). No other I/O is handled between an answer's
 * arrival and its journal write, so a kill loses only requests still in flight; the next process to open
 * the store applies what a killed one left in its journal. Every read of the store flushes first.
 */

/** A batch commits when it holds this many rows, or this long after its first row (or on any read). */
const COMMIT_ROWS = 4000;
const COMMIT_MS = 250;
/** ...or this much journal text (long answers: the commit worker's heap holds one batch). */
const COMMIT_BYTES = 8 << 20;
/**
 * The first batch ends at this many rows and commits in-thread; the commit worker starts after it. A long
 * run gains from the worker; a short one (a few cases, a test, an import) would only pay its start-up and
 * the wait for it at close.
 */
const WORKER_AFTER_ROWS = 256;
/** Batches the commit worker may have queued; the next one waits (see commitBatch). */
const MAX_PENDING_COMMITS = 2;

export class WriteQueue {
  /** Where accepted rows wait for their commit (none for an in-memory or read-only store). */
  private readonly journal: PendingJournal | undefined;
  /** Commits on a worker thread (the compiled package with a file store), else in-thread. */
  private readonly useWorker: boolean;
  private committer: CommitThread | undefined;
  /** Rows committed in-thread so far (see WORKER_AFTER_ROWS). */
  private rowsCommittedHere = 0;
  private readonly writer: RowWriter;
  /** Rows accepted for the in-thread commit (the worker gets them as journal text instead). */
  private queue: Write[] = [];
  /** Rows accepted, and journal text written, since the last commit began. */
  private batchRows = 0;
  private batchBytes = 0;
  private turnScheduled = false;
  private commitTimer: NodeJS.Timeout | undefined;
  /** The journal batch the last in-thread commit recorded; the next commit drops its marker. */
  private appliedBefore: string | undefined;
  /** A failed background flush, rethrown by the next store call so it is never lost silently. */
  private flushError: unknown;

  /** Applies what killed writers left in their journals first (a writable file store only). */
  constructor(
    db: Database.Database,
    private readonly file: string,
    readOnly: boolean,
  ) {
    this.writer = new RowWriter(db);
    this.journal = file === ':memory:' || readOnly ? undefined : new PendingJournal(path.resolve(file));
    this.useWorker = this.journal !== undefined && CommitThread.available();
    if (this.journal) this.replayOrphans();
  }

  /** Whether batches now commit on the worker thread (diagnostics; see WORKER_AFTER_ROWS). */
  get commitsOnWorker(): boolean {
    return this.committer !== undefined;
  }

  /**
   * Accepts one row: it reaches the journal at the end of this event-loop turn (safe from a kill from then
   * on) and SQLite with its batch (COMMIT_ROWS rows, COMMIT_BYTES of text, COMMIT_MS after the batch's
   * first row, or any read).
   */
  add(w: Write): void {
    this.throwFlushError();
    if (this.journal) {
      this.journal.add(w);
      // Only between batches: a batch is committed either here or on the worker, never split.
      if (
        this.useWorker &&
        !this.committer &&
        this.queue.length === 0 &&
        this.rowsCommittedHere >= WORKER_AFTER_ROWS
      )
        this.committer = new CommitThread(path.resolve(this.file));
    }
    if (!this.committer) this.queue.push(w);
    const batchLimit = this.useWorker && !this.committer ? WORKER_AFTER_ROWS : COMMIT_ROWS;
    if (++this.batchRows >= batchLimit) {
      this.commitBatch();
      return;
    }
    if (!this.turnScheduled) {
      this.turnScheduled = true;
      setImmediate(this.endOfTurn);
    }
    if (!this.commitTimer) {
      this.commitTimer = setTimeout(this.timedCommit, COMMIT_MS);
      this.commitTimer.unref();
    }
  }

  private readonly endOfTurn = (): void => {
    this.turnScheduled = false;
    try {
      if (this.journal) this.writeJournal();
      else this.flush();
    } catch (err) {
      this.flushError = err;
    }
  };

  private readonly timedCommit = (): void => {
    this.commitTimer = undefined;
    try {
      this.commitBatch();
    } catch (err) {
      this.flushError = err;
    }
  };

  private writeJournal(): void {
    const text = this.journal?.write();
    if (!text) return;
    this.batchBytes += text.length;
    if (this.batchBytes >= COMMIT_BYTES) this.commitBatch();
  }

  /** Ends the current batch and commits it: on the commit worker (asynchronously) or here. */
  private commitBatch(): void {
    if (this.commitTimer) {
      clearTimeout(this.commitTimer);
      this.commitTimer = undefined;
    }
    if (this.batchRows === 0) return;
    this.batchRows = 0;
    this.batchBytes = 0;
    if (this.committer) {
      this.journal?.write();
      const file = this.journal?.rotate();
      if (file) {
        const seq = this.committer.commit(file.name, file.path);
        // Backpressure: a worker that falls behind would otherwise queue batch after batch in memory.
        if (this.committer.pending() > MAX_PENDING_COMMITS) this.committer.wait(seq - MAX_PENDING_COMMITS);
      }
      return;
    }
    const batch = this.queue;
    this.queue = [];
    this.rowsCommittedHere += batch.length;
    const file = this.journal?.rotate();
    this.writer.commit(batch, file?.name, this.appliedBefore);
    this.appliedBefore = file?.name;
    if (file) PendingJournal.remove(file);
  }

  private throwFlushError(): void {
    const failed = this.committer?.failure();
    if (failed !== undefined && this.flushError === undefined)
      this.flushError = new Error(`run store commit failed: ${failed}`);
    if (this.flushError !== undefined) {
      const err = this.flushError;
      this.flushError = undefined;
      throw err;
    }
  }

  /** Commits every accepted row now (waiting for the commit worker), so reads see all of them. */
  flush(): void {
    this.throwFlushError();
    this.commitBatch();
    if (this.committer) {
      this.committer.wait();
      this.throwFlushError();
    }
  }

  /** Applies the journals of writers that died before committing them (each once, under a write lock). */
  private replayOrphans(): void {
    for (const file of PendingJournal.orphans(path.resolve(this.file))) {
      try {
        this.writer.replay(file.name, PendingJournal.read(file));
        PendingJournal.remove(file);
      } catch (err) {
        const kept = PendingJournal.setAside(file);
        process.stderr.write(
          `refusenik: could not apply the rows a killed run left in ${file.path} (${(err as Error).message}); kept as ${kept}\n`,
        );
      }
    }
  }

  /** Commits what is left and stops the commit worker (the connection is the store's to close). */
  close(): void {
    this.flush();
    this.committer?.close();
  }
}
