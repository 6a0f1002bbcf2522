import path from 'node:path';
import envPaths from 'env-paths';

/** Where data packs live: $REFUSENIK_DATA_DIR, else the user's cache folder. */
export function dataDir(): string {
  const fromEnv = process.env['REFUSENIK_DATA_DIR'];
  if (fromEnv) return path.resolve(fromEnv);
  return path.join(envPaths('refusenik', { suffix: '' }).cache, 'data');
}
