import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import envPaths from 'env-paths';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { fileErrorReason } from '../util/fs-errors.js';

/**
 * A pack file is checked against its registry sha256 when it is read, not only by `data pull` and `data
 * verify`: a file edited (or damaged) after the pull must never feed a run unnoticed. Cheaply: the size is
 * compared every time, and the sha256 only when the file's size, mtime or inode differ from the last check
 * that passed, remembered in the process and in the user's cache folder (`pack-checks.json`), so an
 * unchanged file is hashed once, not on every run.
 */

interface Passed {
  size: number;
  mtimeMs: number;
  ino: number;
  sha256: string;
}

const memory = new Map<string, Passed>();
let persisted: Record<string, Passed> | undefined;

function cacheFile(): string {
  return path.join(envPaths('refusenik', { suffix: '' }).cache, 'pack-checks.json');
}

function loadPersisted(): Record<string, Passed> {
  if (persisted) return persisted;
  try {
    const value = JSON.parse(readFileSync(cacheFile(), 'utf8')) as unknown;
    persisted = value && typeof value === 'object' ? (value as Record<string, Passed>) : {};
  } catch {
    persisted = {};
  }
  return persisted;
}

function remember(abs: string, check: Passed): void {
  memory.set(abs, check);
  const all = loadPersisted();
  all[abs] = check;
  try {
    writeFileAtomic(cacheFile(), JSON.stringify(all));
  } catch {
    // A cache folder we cannot write: the next process hashes again, that is all.
  }
}

/** The pack a file belongs to, as the error message names it. */
export interface PinnedPack {
  name: string;
  repo: string;
  commit: string;
}

/**
 * Throws an InputError naming the file when it differs from its registry entry (size first, then sha256
 * unless an earlier check of the same size, mtime and inode passed).
 */
export function checkPackFile(abs: string, pack: PinnedPack, entry: { sha256: string; bytes: number }): void {
  let size: number;
  let mtimeMs: number;
  let ino: number;
  try {
    ({ size, mtimeMs, ino } = statSync(abs));
  } catch (err) {
    throw new InputError(`cannot read data pack file: ${fileErrorReason(err)}`, { file: abs }, err);
  }
  const known = memory.get(abs) ?? loadPersisted()[abs];
  if (
    known &&
    known.size === size &&
    known.mtimeMs === mtimeMs &&
    known.ino === ino &&
    known.sha256 === entry.sha256 &&
    size === entry.bytes
  ) {
    memory.set(abs, known);
    return;
  }
  let sha256 = '';
  if (size === entry.bytes) {
    try {
      sha256 = createHash('sha256').update(readFileSync(abs)).digest('hex');
    } catch (err) {
      throw new InputError(`cannot read data pack file: ${fileErrorReason(err)}`, { file: abs }, err);
    }
  }
  if (size !== entry.bytes || sha256 !== entry.sha256) {
    throw new InputError(
      `this file of the ${pack.name} pack changed since it was pulled: ` +
        (size !== entry.bytes ? `${size} bytes, the registry pins ${entry.bytes}` : `sha256 ${sha256}`) +
        ` (expected sha256 ${entry.sha256}, ${pack.repo}@${pack.commit.slice(0, 12)}); restore it with ` +
        `\`refusenik data pull ${pack.name}\` (\`refusenik data verify\` checks every file)`,
      { file: abs },
    );
  }
  remember(abs, { size, mtimeMs, ino, sha256 });
}
