import { statSync } from 'node:fs';
import path from 'node:path';
import { InputError, RuntimeFailure } from '../errors.js';
import { dataDir } from './dir.js';
import { BUILTIN_REGISTRY, packCommits, type Registry } from './registry.js';
import { checkPackFile } from './integrity.js';

/**
 * The data-pack API for the rest of refusenik: where a pack file is, and which upstream commits the packs
 * come from (recorded with every run).
 */

export { packCommits };

/**
 * Absolute path of a pack file in the data folder (`dir`, default dataDir()). Throws an InputError for an
 * unknown pack, and a RuntimeFailure that says how to get the file when it is not there. A file the registry
 * pins is checked against its sha256 (integrity.ts): one edited after `data pull` is an InputError.
 */
export function packFile(
  pack: string,
  relPath: string,
  dir: string = dataDir(),
  registry: Registry = BUILTIN_REGISTRY,
): string {
  const entry = registry.packs.find((p) => p.name === pack);
  if (!entry) {
    const known = registry.packs.map((p) => p.name).join(', ');
    throw new InputError(`unknown data pack '${pack}' (known packs: ${known})`);
  }
  const normal = path.posix.normalize(relPath.split(path.sep).join('/'));
  if (path.posix.isAbsolute(normal) || normal.startsWith('../') || normal === '..') {
    throw new InputError(`pack file path must stay inside the pack: '${relPath}'`);
  }
  const abs = path.join(path.resolve(dir), pack, normal);
  let isFile = false;
  try {
    isFile = statSync(abs).isFile();
  } catch {
    // missing: reported below
  }
  if (!isFile) {
    const file = entry.files.find((f) => f.path === normal);
    const how = !file
      ? `'${normal}' is not a file of the ${pack} pack (see \`refusenik data list\`)`
      : file.kind === 'mirror'
        ? `run \`refusenik data pull ${pack}\` with a mirror (--base-url) or a local copy (--from); ` +
          `upstream does not publish it as a file`
        : `run \`refusenik data pull ${pack}\``;
    throw new RuntimeFailure(
      `data pack file not found: ${abs}; ${how} (data folder ${path.resolve(dir)}; REFUSENIK_DATA_DIR changes it)`,
    );
  }
  const pinned = entry.files.find((f) => f.path === normal);
  if (pinned) checkPackFile(abs, entry, pinned);
  return abs;
}

/**
 * Checks a pack file named by the pack's name and its path inside the pack (a `pack:` dataset), when the
 * registry pins it; see packFile.
 */
export function checkPinnedPackFile(
  pack: string,
  relPath: string,
  abs: string,
  registry: Registry = BUILTIN_REGISTRY,
): void {
  const entry = registry.packs.find((p) => p.name === pack);
  const normal = path.posix.normalize(relPath.split(path.sep).join('/'));
  const pinned = entry?.files.find((f) => f.path === normal);
  if (entry && pinned) checkPackFile(abs, entry, pinned);
}
