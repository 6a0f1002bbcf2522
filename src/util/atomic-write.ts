import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

/**
 * Files written for the user (reports, verdicts, exports) appear whole or not at all: the bytes go to a
 * temporary file in the same folder, are fsynced, and the temporary file is renamed over the target. A
 * crash or a kill mid-write leaves the previous file (or none) and at most a `.tmp-*` file, never a
 * truncated report.
 */

/** Writes `data` to `file` atomically (parent folders created). */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const w = new AtomicFile(file);
  try {
    w.write(data);
    w.commit();
  } catch (err) {
    w.abort();
    throw err;
  }
}

/** A file written in pieces and published by `commit()`; `abort()` removes the temporary file. */
export class AtomicFile {
  readonly tmp: string;
  private fd: number | undefined;

  constructor(readonly file: string) {
    const dir = path.dirname(path.resolve(file));
    mkdirSync(dir, { recursive: true });
    this.tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${Date.now().toString(36)}`);
    this.fd = openSync(this.tmp, 'w');
  }

  write(data: string | Uint8Array): void {
    if (this.fd === undefined) throw new Error(`${this.file}: already closed`);
    // writeSync may write less than asked for large buffers: loop until all is out.
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off);
  }

  commit(): void {
    if (this.fd === undefined) throw new Error(`${this.file}: already closed`);
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = undefined;
    renameSync(this.tmp, this.file);
  }

  abort(): void {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
      this.fd = undefined;
    }
    rmSync(this.tmp, { force: true });
  }
}
