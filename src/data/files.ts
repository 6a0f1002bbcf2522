import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { PackFile } from './registry.js';
import { tempPathFor as atomicTempPath } from '../util/atomic-write.js';

/**
 * Local file checks shared by pull, verify and list. Files are written by util/atomic-write.ts, the project's
 * one atomic writer (pull publishes its temporary files with `publishTemp`, derived files with `writeFileAtomic`).
 */

export type FileState =
  | { state: 'ok'; bytes: number; sha256: string }
  | { state: 'missing' }
  | { state: 'wrong-size'; bytes: number }
  | { state: 'wrong-sha256'; bytes: number; sha256: string };

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Compares a file on disk with its registry entry (size first: cheap, and enough to catch most damage). */
export async function checkFile(file: string, entry: Pick<PackFile, 'sha256' | 'bytes'>): Promise<FileState> {
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) return { state: 'missing' };
    size = st.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    throw err;
  }
  if (size !== entry.bytes) return { state: 'wrong-size', bytes: size };
  const sha256 = await sha256File(file);
  return sha256 === entry.sha256
    ? { state: 'ok', bytes: size, sha256 }
    : { state: 'wrong-sha256', bytes: size, sha256 };
}

/** util/atomic-write's temporary name beside `target`, with the target's folder made first. */
export async function tempPathFor(target: string): Promise<string> {
  await mkdir(path.dirname(target), { recursive: true });
  return atomicTempPath(target);
}

export async function removeQuietly(file: string): Promise<void> {
  await unlink(file).catch(() => undefined);
}
