import { closeSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';

/**
 * The store's write-ahead journal: rows the store has accepted but not yet committed to SQLite, appended as
 * JSON lines with one write(2) per event-loop turn. Once write(2) returns the bytes are the kernel's, so a
 * SIGKILL (or a crash of Node) loses nothing the runner has finished; SQLite then commits in large batches
 * instead of once per turn, which costs a fraction per row (a commit rewrites every page it touched).
 *
 * Each batch goes to its own file, `<db>-pending-<pid>-<nonce>-<gen>.jsonl`. The commit that applies a batch
 * also records the file's name in the store (`applied` below), so a process killed between the commit and
 * the unlink is not applied twice. The next process to open the store replays the files of processes that
 * are gone; a live writer's files are left alone.
 */

export interface JournalFile {
  name: string;
  pid: number;
  path: string;
}

const SUFFIX = '.jsonl';

export class PendingJournal {
  private fd: number | undefined;
  private gen = 0;
  private lines: string[] = [];
  private readonly nonce = Math.random().toString(36).slice(2, 8);

  constructor(private readonly dbFile: string) {}

  /** The current batch's file name (what a commit records as applied). */
  get name(): string {
    return `${path.basename(this.dbFile)}-pending-${process.pid}-${this.nonce}-${this.gen}${SUFFIX}`;
  }

  /** Queues one record for the next `write()`. */
  add(record: unknown): void {
    this.lines.push(JSON.stringify(record));
  }

  get unwritten(): number {
    return this.lines.length;
  }

  /** Appends the queued records to the current batch file in one write; returns the text written. */
  write(): string {
    if (this.lines.length === 0) return '';
    const text = `${this.lines.join('\n')}\n`;
    this.lines = [];
    this.fd ??= openSync(this.path, 'a');
    writeSync(this.fd, text);
    return text;
  }

  /**
   * Ends the current batch (its rows are about to be committed): drops records never written (the commit
   * takes them straight from memory), closes the batch file and starts the next one. Returns the finished
   * file, for the committer to record and delete, or undefined when nothing reached it.
   */
  rotate(): { name: string; path: string } | undefined {
    this.lines = [];
    const done = this.fd === undefined ? undefined : { name: this.name, path: this.path };
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.gen++;
    return done;
  }

  private get path(): string {
    return path.join(path.dirname(this.dbFile), this.name);
  }

  /** Files left by writers of this store that are no longer running (oldest generation first). */
  static orphans(dbFile: string): JournalFile[] {
    const dir = path.dirname(dbFile);
    const prefix = `${path.basename(dbFile)}-pending-`;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return [];
    }
    const out: (JournalFile & { gen: number })[] = [];
    for (const name of names) {
      if (!name.startsWith(prefix) || !name.endsWith(SUFFIX)) continue;
      const [pid, , gen] = name.slice(prefix.length, -SUFFIX.length).split('-');
      const p = Number(pid);
      if (!Number.isInteger(p) || p === process.pid || isAlive(p)) continue;
      out.push({ name, pid: p, path: path.join(dir, name), gen: Number(gen) });
    }
    return out.sort((a, b) => a.pid - b.pid || a.gen - b.gen);
  }

  /**
   * The records of a journal file. A dead writer's last line may have been cut by the kill and is skipped;
   * `strict` (a batch this process wrote and closed) makes any unreadable line an error.
   */
  static read(file: { path: string }, strict = false): unknown[] {
    const out: unknown[] = [];
    const lines = readFileSync(file.path, 'utf8').split('\n');
    for (const [i, line] of lines.entries()) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line));
      } catch {
        if (strict) throw new Error(`${file.path}:${i + 1}: not a journal row: ${line.slice(0, 80)}`);
        // a torn final write
      }
    }
    return out;
  }

  static remove(file: { path: string }): void {
    try {
      unlinkSync(file.path);
    } catch {
      // already gone (another process replayed it)
    }
  }

  /** Moves a file that cannot be applied out of the way (kept for a person to look at). */
  static setAside(file: JournalFile): string {
    const to = `${file.path}.unapplied`;
    renameSync(file.path, to);
    return to;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
