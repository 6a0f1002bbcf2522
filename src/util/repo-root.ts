import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root: dist/util/repo-root.js and src/util/repo-root.ts both sit two levels below it. */
export function repoRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
}
