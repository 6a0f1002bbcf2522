import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { PackFile } from './registry.js';
import { publishTemp, tempPathFor as atomicTempPath, writeFileAtomic } from '../util/atomic-write.js';

/** Local file checks shared by pull, verify and list, and their writes (through util/atomic-write.ts). */

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

/** A fresh temporary name next to `target`, so the final rename stays on one file system (and is atomic). */
export async function tempPathFor(target: string): Promise<string> {
  await mkdir(path.dirname(target), { recursive: true });
  return atomicTempPath(target);
}

/** Moves a finished temporary file into place; readers see the old file or the new one, never a mix. */
export async function commitTemp(temp: string, target: string): Promise<void> {
  publishTemp(temp, target);
}

export async function removeQuietly(file: string): Promise<void> {
  await unlink(file).catch(() => undefined);
}

/** Writes `data` to `target` through the project's one safe writer (util/atomic-write.ts). */
export async function writeAtomic(target: string, data: Uint8Array): Promise<void> {
  writeFileAtomic(target, data);
}
