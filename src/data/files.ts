import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { PackFile } from './registry.js';

/** Local file checks and atomic writes shared by pull, verify and list. */

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
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.part`);
}

/** Moves a finished temporary file into place; readers see the old file or the new one, never a mix. */
export async function commitTemp(temp: string, target: string): Promise<void> {
  await rename(temp, target);
}

export async function removeQuietly(file: string): Promise<void> {
  await unlink(file).catch(() => undefined);
}

/** Writes `data` to `target` through a temporary file and a rename. */
export async function writeAtomic(target: string, data: Uint8Array): Promise<void> {
  const temp = await tempPathFor(target);
  try {
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await commitTemp(temp, target);
  } catch (err) {
    await removeQuietly(temp);
    throw err;
  }
}
