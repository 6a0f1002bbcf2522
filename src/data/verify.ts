import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { checkFile } from './files.js';
import type { Pack, PackFile } from './registry.js';

/**
 * `data verify`: checks a data folder against the registry. Packs whose folder is absent are skipped unless
 * asked for by name; in the packs checked, a missing file or a wrong size or sha256 is an error, and a file
 * the registry does not know (SOURCE.md, a leftover `.part`) is a warning.
 */

export type VerifyStatus = 'ok' | 'missing' | 'wrong-size' | 'wrong-sha256';

export interface VerifyFileResult {
  pack: string;
  path: string;
  kind: PackFile['kind'];
  status: VerifyStatus;
  expectedSha256: string;
  expectedBytes: number;
  actualSha256?: string;
  actualBytes?: number;
}

export interface VerifyReport {
  dir: string;
  ok: boolean;
  /** Packs checked. */
  packs: { name: string; commit: string }[];
  /** Packs in the registry with no folder here (not asked for by name). */
  skipped: string[];
  files: VerifyFileResult[];
  /** Files under a checked pack's folder that the registry does not list, relative to `dir`. */
  unknown: string[];
}

export async function verifyDir(dir: string, packs: Pack[], explicit: boolean): Promise<VerifyReport> {
  const checked: Pack[] = [];
  const skipped: string[] = [];
  for (const pack of packs) {
    const present = (await listFiles(path.join(dir, pack.name))) !== undefined;
    if (present || explicit) checked.push(pack);
    else skipped.push(pack.name);
  }
  const files: VerifyFileResult[] = [];
  const unknown: string[] = [];
  for (const pack of checked) {
    for (const file of pack.files) {
      const st = await checkFile(path.join(dir, pack.name, file.path), file);
      const result: VerifyFileResult = {
        pack: pack.name,
        path: file.path,
        kind: file.kind,
        status: st.state,
        expectedSha256: file.sha256,
        expectedBytes: file.bytes,
      };
      if (st.state !== 'missing') result.actualBytes = st.bytes;
      if (st.state === 'ok' || st.state === 'wrong-sha256') result.actualSha256 = st.sha256;
      files.push(result);
    }
    const known = new Set(pack.files.map((f) => f.path));
    for (const rel of (await listFiles(path.join(dir, pack.name))) ?? []) {
      if (!known.has(rel)) unknown.push(`${pack.name}/${rel}`);
    }
  }
  return {
    dir,
    ok: checked.length > 0 && files.every((f) => f.status === 'ok'),
    packs: checked.map((p) => ({ name: p.name, commit: p.commit })),
    skipped,
    files,
    unknown,
  };
}

/** Every file under `root`, as '/'-separated relative paths; undefined when `root` is not a folder. */
async function listFiles(root: string): Promise<string[] | undefined> {
  let entries;
  try {
    entries = await readdir(root, { recursive: true, withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
  return entries
    .filter((e) => e.isFile() || e.isSymbolicLink())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}
