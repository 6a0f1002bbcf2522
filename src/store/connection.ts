import { accessSync, constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { InputError } from '../errors.js';
import { PendingJournal } from './journal.js';
import { migrate, SCHEMA, setupNeeded } from './schema.js';

/**
 * Opening the store's SQLite file: for writing (WAL, schema, migrations), or for reading only, which must
 * work on a store this user may not write and must never write beside it. Kept apart from RunStore so the
 * file-system cases (read-only folders, private copies, a mistyped --db) are read in one place.
 */

/** A connection and how to close it. */
export interface Connection {
  db: Database.Database;
  close: () => void;
}

/** Opens (or, unless `mustExist`, creates) a store for writing, its schema set up. Errors: see openError. */
export function openForWriting(file: string, mustExist: boolean): Database.Database {
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file, { fileMustExist: mustExist });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 10000');
  db.pragma('foreign_keys = ON');
  db.exec(SCHEMA);
  migrate(db);
  return db;
}

/** The error for a store that could not be opened (or set up) for writing. */
export function openError(file: string, err: unknown): InputError {
  const readOnly = file !== ':memory:' && existsSync(file) && !mayWrite(file);
  return new InputError(
    readOnly
      ? 'cannot write this run store: this user may not write it or its folder (commands that only ' +
          'read it, such as runs list, runs show, report and analyze, still work)'
      : `cannot open run store: ${(err as Error).message}`,
    { file },
    err,
  );
}

/**
 * A read-only connection to an existing store (see RunStore.openReadOnly). A store that needs setup first
 * (an older schema, or rows a killed run left in its journal) gets it from `setUp` (a short read-write open)
 * when this process may write it; when it may not, an older schema is an error that says so, and
 * unapplied journal rows a warning.
 */
export function openForReading(file: string, setUp: () => void): Connection {
  let conn = openReadConnection(file);
  const missing = setupNeeded(conn.db);
  const orphans = PendingJournal.orphans(path.resolve(file)).length;
  if (missing.length || orphans) {
    if (mayWrite(file)) {
      conn.close();
      setUp();
      conn = openReadConnection(file);
    } else if (missing.length) {
      conn.close();
      throw new InputError(
        `the run store needs an upgrade to this refusenik's schema (${missing.join(', ')}), which needs ` +
          'write access, and it is read-only here: have someone who can write it run any refusenik ' +
          `command on it once (e.g. refusenik runs list --db ${file}), or read an upgraded copy`,
        { file },
      );
    } else {
      process.stderr.write(
        `refusenik: ${file}: ${orphans} journal file(s) of a killed run are not applied yet (the store is ` +
          'read-only here): its latest rows are not shown until a process that can write it opens it\n',
      );
    }
  }
  return conn;
}

/**
 * A read-only connection to a store. SQLite reads a WAL database through its `-shm` index; in a folder this
 * process cannot write, with no `-shm` there (the last writer closed cleanly), it cannot make one and
 * refuses: then a private copy of the store (with its `-wal`) is read from a temporary folder, removed on
 * close. Nothing is ever written beside the store.
 */
function openReadConnection(file: string): Connection {
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 10000');
      db.prepare('SELECT COUNT(*) FROM sqlite_master').get();
      return { db, close: () => db.close() };
    } catch (err) {
      db.close();
      const code = String((err as { code?: unknown }).code ?? '');
      if (!code.startsWith('SQLITE_READONLY') && !code.startsWith('SQLITE_CANTOPEN')) throw err;
    }
    const dir = mkdtempSync(path.join(os.tmpdir(), 'refusenik-store-'));
    const remove = (): void => rmSync(dir, { recursive: true, force: true });
    try {
      const copy = path.join(dir, path.basename(file));
      copyFileSync(file, copy);
      if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, `${copy}-wal`);
      const db = new Database(copy, { readonly: true, fileMustExist: true });
      return {
        db,
        close: () => {
          db.close();
          remove();
        },
      };
    } catch (err) {
      remove();
      throw err;
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`cannot open run store: ${(err as Error).message}`, { file });
  }
}

/** Whether this process may write the store and its folder (its journal and SQLite's files go there). */
function mayWrite(file: string): boolean {
  try {
    accessSync(file, constants.W_OK);
    accessSync(path.dirname(path.resolve(file)), constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
