import { unlinkSync } from 'node:fs';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { RowWriter, splitJournalLine, type Write } from './rows.js';

/**
 * The run store's commit worker: its own SQLite connection, on its own thread, applying the rows the
 * store journals (see journal.ts) in one transaction per journal batch, so inserts and commits never run
 * on the event loop that drives requests. Protocol (commit-thread.ts is the other side):
 * - `rows`: journal text (JSON lines) of rows accepted since the last message; buffered here.
 * - `commit`: apply the buffer as journal batch `journal`, delete its file, then publish `seq` in the
 *   shared state (`[0]` = last commit seq, `[1]` = 1 after a failure, whose message goes to `errors`).
 */

export interface CommitWorkerData {
  file: string;
  state: SharedArrayBuffer;
  errors: MessagePort;
}

export type CommitMessage =
  | { kind: 'rows'; text: string }
  | { kind: 'commit'; seq: number; journal: string; journalPath: string }
  | { kind: 'close' };

const { file, state, errors } = workerData as CommitWorkerData;
const flags = new Int32Array(state);
const db = new Database(file, { fileMustExist: true });
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 10000');
db.pragma('foreign_keys = ON');
const writer = new RowWriter(db);
const emptyBatch = (): Record<Write[0], string[]> => ({ case: [], verdict: [], request: [], cache: [] });
let batch = emptyBatch();
/** The journal batch committed last: its marker is dropped by the next commit (its file is gone). */
let forget: string | undefined;

parentPort?.on('message', (m: CommitMessage) => {
  if (m.kind === 'rows') {
    // Rows stay JSON text: SQLite takes each kind's batch as one JSON array (RowWriter.commitJson).
    for (const line of m.text.split('\n')) {
      const row = line ? splitJournalLine(line) : undefined;
      if (row) batch[row[0]].push(row[1]);
    }
    return;
  }
  if (m.kind === 'close') {
    db.close();
    parentPort?.close();
    return;
  }
  try {
    if (Atomics.load(flags, 1) === 0) {
      writer.commitJson(batch, m.journal, forget);
      batch = emptyBatch();
      unlinkSync(m.journalPath);
      forget = m.journal;
    }
  } catch (err) {
    // The batch stays in its journal file: the next process to open the store applies it.
    errors.postMessage(err instanceof Error ? err.message : String(err));
    Atomics.store(flags, 1, 1);
  }
  Atomics.store(flags, 0, m.seq);
  Atomics.notify(flags, 0);
});
