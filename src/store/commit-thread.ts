import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { CommitMessage, CommitWorkerData } from './commit-worker.js';

/**
 * The store's side of the commit worker (commit-worker.ts): hands it finished journal batches to commit, and
 * waits for a commit synchronously (Atomics.wait) when a read needs everything in SQLite.
 */

const WORKER_URL = new URL('./commit-worker.js', import.meta.url);
/** A commit this long overdue means the worker is gone (it has died or hangs). */
const WAIT_LIMIT_MS = 120_000;
const WORKER_OLD_SPACE_MB = 96;

export class CommitThread {
  private readonly worker: Worker;
  private readonly flags: Int32Array;
  private readonly errors: MessagePort;
  private seq = 0;

  /** The worker runs from the compiled package; from TypeScript sources (unit tests) the store commits in-thread. */
  static available(): boolean {
    return existsSync(fileURLToPath(WORKER_URL));
  }

  constructor(file: string) {
    const state = new SharedArrayBuffer(8);
    this.flags = new Int32Array(state);
    const { port1, port2 } = new MessageChannel();
    this.errors = port1;
    const data: CommitWorkerData = { file, state, errors: port2 };
    this.worker = new Worker(WORKER_URL, {
      workerData: data,
      transferList: [port2],
      // Its live data is one batch (COMMIT_BYTES of journal text, a few copies): a small heap makes V8
      // collect its garbage early instead of letting it pile up to hundreds of MB of RSS.
      resourceLimits: { maxOldGenerationSizeMb: WORKER_OLD_SPACE_MB, maxYoungGenerationSizeMb: 8 },
    });
    this.worker.unref();
    port1.unref();
  }

  /** Asks for journal batch `journal` (a closed file) to be committed; returns the commit's seq. */
  commit(journal: string, journalPath: string): number {
    this.post({ kind: 'commit', seq: ++this.seq, journal, journalPath });
    return this.seq;
  }

  /** The commit's failure, if the worker reported one. */
  failure(): string | undefined {
    if (Atomics.load(this.flags, 1) === 0) return undefined;
    const m = receiveMessageOnPort(this.errors);
    return m ? String(m.message) : 'the commit worker failed';
  }

  /** Commits asked for and not yet done. */
  pending(): number {
    return this.seq - Atomics.load(this.flags, 0);
  }

  /** Blocks until commit `seq` (default: the last one asked for) is done. */
  wait(seq = this.seq): void {
    const started = Date.now();
    for (;;) {
      const done = Atomics.load(this.flags, 0);
      if (done >= seq) return;
      if (Date.now() - started > WAIT_LIMIT_MS)
        throw new Error(`the store's commit worker has not answered for ${WAIT_LIMIT_MS / 1000} s`);
      Atomics.wait(this.flags, 0, done, 1000);
    }
  }

  close(): void {
    this.post({ kind: 'close' });
  }

  private post(m: CommitMessage): void {
    this.worker.postMessage(m);
  }
}
