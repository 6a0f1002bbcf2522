import { unlinkSync } from 'node:fs';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { PendingJournal } from './journal.js';
import { isWrite, RowWriter, type Write } from './rows.js';

/**
 * The run store's commit worker: its own SQLite connection, on its own thread, applying the rows the
 * store journals (see journal.ts) in one transaction per journal batch, so inserts and commits never run
 * on the event loop that drives requests. Protocol (commit-thread.ts is the other side):
 * - `commit`: read journal batch `journal` from its file (the store has written and closed it: the rows
 *   never cross threads as messages), apply it, delete the file, then publish `seq` in the shared state
 *   (`[0]` = last commit seq, `[1]` = 1 after a failure, whose message goes to `errors`).
 */

export interface CommitWorkerData {
  file: string;
  state: SharedArrayBuffer;
  errors: MessagePort;
}

export type CommitMessage =
  { kind: 'commit'; seq: number; journal: string; journalPath: string } | { kind: 'close' };

const { file, state, errors } = workerData as CommitWorkerData;
const flags = new Int32Array(state);
const db = new Database(file, { fileMustExist: true });
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 10000');
db.pragma('foreign_keys = ON');
const writer = new RowWriter(db);
/** The journal batch committed last: its marker is dropped by the next commit (its file is gone). */
let forget: string | undefined;

parentPort?.on('message', (m: CommitMessage) => {
  if (m.kind === 'close') {
    db.close();
    parentPort?.close();
    return;
  }
  try {
    if (Atomics.load(flags, 1) === 0) {
      writer.commit(readBatch(m.journalPath), m.journal, forget);
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

/**
 * A batch file's rows, in the order they were accepted. Parsing here and binding values is about twice as
 * fast as handing SQLite the JSON (json_each with one `->>` per column), and it is this thread's time.
 */
function readBatch(file: string): Write[] {
  const rows = PendingJournal.read({ path: file }, true);
  for (const row of rows)
    if (!isWrite(row)) throw new Error(`${file}: not a journal row: ${JSON.stringify(row).slice(0, 80)}`);
  return rows as Write[];
}
