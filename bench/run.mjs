// Runs every benchmark in bench/ one after another (after a build), each printing its own side-by-side
// comparison. `npm run bench -- --quick` passes --quick to each; `npm run bench -- pipeline` runs one.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const here = import.meta.dirname;
const args = process.argv.slice(2);
const only = args.filter((a) => !a.startsWith('--'));
const flags = args.filter((a) => a.startsWith('--'));
const scripts = readdirSync(here)
  .filter((f) => f.endsWith('.mjs') && f !== 'run.mjs')
  .filter((f) => only.length === 0 || only.includes(f.replace(/\.mjs$/, '')))
  .sort();

const build = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit', cwd: path.dirname(here) });
if (build.status !== 0) process.exit(build.status ?? 1);
let failed = 0;
for (const script of scripts) {
  console.log(`\n=== bench/${script} ${flags.join(' ')}`);
  const r = spawnSync(process.execPath, [path.join(here, script), ...flags], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
