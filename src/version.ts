import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The package version from package.json (recorded with every run). */
export function packageVersion(): string {
  if (cached === undefined) {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    cached = pkg.version;
  }
  return cached;
}
