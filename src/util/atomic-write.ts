import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
  type Stats,
} from 'node:fs';
import path from 'node:path';
import { InputError, UserError } from '../errors.js';
import { fileErrorReason } from './fs-errors.js';

/**
 * The one writer for files the project writes for the user (reports, verdicts, exports, pulled data packs).
 *
 * A regular file (or a name that does not exist yet) is replaced atomically: the bytes go to a temporary
 * file in the same folder (created exclusively, so a planted link at its name is never followed), are
 * fsynced, and the temporary file is renamed over the target. A crash or a kill mid-write leaves the previous
 * file (or none) and at most a `.tmp-*` file, never a truncated report. A symlink to a regular file keeps
 * the link: the file it points at is replaced.
 *
 * Anything that is not a regular file is never replaced: a FIFO, a character device (`/dev/null`, a tty)
 * and anything else under `/dev` or `/proc` is written in place, as a stream; this process's own
 * descriptors (`/dev/stdout`, `/dev/fd/N`, `/proc/self/fd/N`) are written directly, whatever they are (a
 * pipe, a socket, a terminal, or the file a shell redirected them to, at its offset).
 * A folder, a socket or a block device is refused, as is a file the caller protects (the run store a
 * command reads, with its `-wal`/`-shm`/`-journal` companions) and any SQLite database: no output of this
 * project is one, so replacing one is always a mistake.
 */

export interface OutputOptions {
  /**
   * Files this output must never replace or write into, by what they are to the command, e.g.
   * `{ 'the run store': db, 'the --input file': input }` (SQLite companions of each are protected too).
   */
  protect?: Readonly<Record<string, string | undefined>>;
}

/** Where an output goes and how. */
export interface OutputTarget {
  /** `replace`: a regular file or none yet, replaced by a rename; `stream`: a FIFO or device, written in place. */
  mode: 'replace' | 'stream';
  /** The path written: for `replace`, the file a symlink points at (the link itself is kept). */
  path: string;
  /**
   * For `/dev/stdout`, `/dev/stderr`, `/dev/fd/N` and `/proc/self/fd/N`: this process's descriptor N,
   * written directly (it may be a socket or a pipe another process made, which cannot be opened by name).
   */
  fd?: number;
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
/** Companion files SQLite keeps beside a database. */
const SQLITE_COMPANIONS = ['', '-wal', '-shm', '-journal'];

/** Decides how `file` is written (see the module comment); throws an error naming the file if it must not be. */
export function outputTarget(file: string, opts: OutputOptions = {}): OutputTarget {
  if (file === '') throw new InputError('the output file name is empty');
  const abs = path.resolve(file);
  const own = ownDescriptor(abs);
  if (own !== undefined) {
    try {
      fstatSync(own);
    } catch {
      throw new InputError(`descriptor ${own} is not open in this process`, { file });
    }
    return { mode: 'stream', path: abs, fd: own };
  }
  const st = statOrUndefined(abs, file);
  if (st === undefined) {
    if (isSpecialTree(abs)) throw new InputError('no such device or descriptor', { file });
    return { mode: 'replace', path: abs };
  }
  if (st.isDirectory()) throw new InputError('is a folder; give a file name for the output', { file });
  if (st.isSocket() || st.isBlockDevice()) {
    throw new InputError(`is a ${st.isSocket() ? 'socket' : 'block device'}; refusing to write to it`, {
      file,
    });
  }
  for (const [what, p] of Object.entries(opts.protect ?? {})) {
    if (p === undefined || p === '' || p === '-' || p === ':memory:') continue;
    for (const suffix of SQLITE_COMPANIONS) {
      const other = statOrUndefined(path.resolve(`${p}${suffix}`));
      if (other && other.dev === st.dev && other.ino === st.ino) {
        throw new InputError(
          `is ${what}${suffix ? ` (its ${suffix.slice(1)} file)` : ''} this command reads; refusing to ` +
            'write over it: choose another output file',
          { file },
        );
      }
    }
  }
  if (st.isFIFO() || st.isCharacterDevice()) return { mode: 'stream', path: abs };
  const real = realpathSync(abs);
  // /dev/stdout, /proc/self/fd/N: an open descriptor's file, even when it is a regular one (a shell's
  // redirection); replacing it would swap the node (as root, the system's) and lose the output.
  if (isSpecialTree(abs) || isSpecialTree(real)) return { mode: 'stream', path: abs };
  if (startsWithSqliteMagic(real)) {
    throw new InputError(
      'is an SQLite database (a run store?); refusing to replace it with this output: choose another file',
      { file },
    );
  }
  return { mode: 'replace', path: real };
}

/** Writes `data` to `file` safely (see the module comment; parent folders are created). */
export function writeFileAtomic(file: string, data: string | Uint8Array, opts: OutputOptions = {}): void {
  const w = new AtomicFile(file, opts);
  try {
    w.write(data);
    w.commit();
  } catch (err) {
    w.abort();
    throw err;
  }
}

/** A fresh temporary name beside `target`, so the final rename stays on one file system (and is atomic). */
export function tempPathFor(target: string): string {
  const abs = path.resolve(target);
  return path.join(
    path.dirname(abs),
    `.${path.basename(abs)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`,
  );
}

/**
 * Publishes a finished temporary file (from `tempPathFor`) as `file`: renamed over a regular target, or
 * copied into a stream target and removed. Readers of a regular file see the old file or the new one.
 */
export function publishTemp(temp: string, file: string, opts: OutputOptions = {}): void {
  const target = outputTarget(file, opts);
  if (target.mode === 'replace') {
    guard(file, () => renameSync(temp, target.path));
    return;
  }
  const out = new AtomicFile(file, opts);
  try {
    const fd = openSync(temp, 'r');
    try {
      const buf = Buffer.allocUnsafe(1 << 16);
      for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) out.write(buf.subarray(0, n));
    } finally {
      closeSync(fd);
    }
    out.commit();
  } catch (err) {
    out.abort();
    throw err;
  } finally {
    rmSync(temp, { force: true });
  }
}

/** A file written in pieces and published by `commit()`; `abort()` removes the temporary file. */
export class AtomicFile {
  readonly target: OutputTarget;
  /** The temporary file (undefined for a stream target, which is written in place). */
  readonly tmp: string | undefined;
  private fd: number | undefined;

  constructor(
    readonly file: string,
    opts: OutputOptions = {},
  ) {
    this.target = outputTarget(file, opts);
    if (this.target.fd !== undefined) {
      this.fd = this.target.fd;
      return;
    }
    if (this.target.mode === 'stream') {
      // Append: a descriptor's file (a shell's `>>`) keeps what is there; FIFOs and devices do not care.
      this.fd = guard(file, () => openSync(this.target.path, 'a'));
      return;
    }
    const tmp = tempPathFor(this.target.path);
    this.fd = guard(file, () => {
      mkdirSync(path.dirname(tmp), { recursive: true });
      return openSync(tmp, 'wx');
    });
    this.tmp = tmp;
  }

  write(data: string | Uint8Array): void {
    const fd = this.fd;
    if (fd === undefined) throw new Error(`${this.file}: already closed`);
    // writeSync may write less than asked for large buffers (and pipes): loop until all is out.
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    guard(this.file, () => {
      let off = 0;
      while (off < bytes.length) {
        try {
          off += writeSync(fd, bytes, off, bytes.length - off);
        } catch (err) {
          // A descriptor shared with Node's own stdout may be non-blocking: wait for room, then go on.
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
          Atomics.wait(PAUSE, 0, 0, 2);
        }
      }
    });
  }

  commit(): void {
    const fd = this.fd;
    if (fd === undefined) throw new Error(`${this.file}: already closed`);
    this.fd = undefined;
    if (this.tmp === undefined) {
      // This process's own descriptor (stdout...) stays open; a device or FIFO opened here is closed.
      if (this.target.fd === undefined) guard(this.file, () => closeSync(fd));
      return;
    }
    const tmp = this.tmp;
    guard(this.file, () => {
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.target.path);
    });
    syncFolder(path.dirname(this.target.path));
  }

  abort(): void {
    if (this.fd !== undefined && this.target.fd === undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
    }
    this.fd = undefined;
    if (this.tmp !== undefined) rmSync(this.tmp, { force: true });
  }
}

/** Runs a file operation; a system error becomes one that names the output file (exit 1: not bad input). */
function guard<T>(file: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof UserError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (typeof e.code !== 'string') throw err;
    const reason = e.code === 'EISDIR' ? 'is a folder; give a file name for the output' : fileErrorReason(e);
    throw new UserError(`cannot write the output: ${reason}`, {
      exitCode: 1,
      location: { file },
      cause: err,
    });
  }
}

function statOrUndefined(abs: string, file?: string): Stats | undefined {
  try {
    return statSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || file === undefined) return undefined;
    if (code === 'ENOTDIR') throw new InputError('a part of the path is not a folder', { file });
    return guard(file, () => {
      throw err;
    });
  }
}

const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/** The descriptor a path names in this process: /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N. */
function ownDescriptor(abs: string): number | undefined {
  if (abs === '/dev/stdout') return 1;
  if (abs === '/dev/stderr') return 2;
  const m = /^\/(?:dev\/fd|proc\/(?:self|thread-self|(\d+))\/fd)\/(\d+)$/.exec(abs);
  if (!m || (m[1] !== undefined && Number(m[1]) !== process.pid)) return undefined;
  return Number(m[2]);
}

function isSpecialTree(p: string): boolean {
  return p === '/dev' || p.startsWith('/dev/') || p === '/proc' || p.startsWith('/proc/');
}

function startsWithSqliteMagic(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const head = Buffer.alloc(SQLITE_MAGIC.length);
    const n = readSync(fd, head, 0, head.length, 0);
    return n === head.length && head.equals(SQLITE_MAGIC);
  } catch {
    // Unreadable: not ours to judge; the rename decides.
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Makes a rename durable (best effort: some file systems refuse to fsync a folder). */
function syncFolder(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // not supported here
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
