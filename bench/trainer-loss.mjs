// The trainer's chunked head + loss against the stock one (issue 5): runs trainer/bench/loss_bench.py in the
// project's .venv (bash scripts/setup-python.sh creates it). --quick uses 1,024 tokens, the default 4,096.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const python = path.join(ROOT, '.venv', 'bin', 'python');
if (!existsSync(python)) {
  console.log('skipped: no .venv (create it with: bash scripts/setup-python.sh)');
  process.exit(0);
}
const tokens = process.argv.includes('--quick') ? '1024' : '4096';
const r = spawnSync(
  python,
  [path.join(ROOT, 'trainer', 'bench', 'loss_bench.py'), '--tokens', tokens, '--repeats', '1'],
  { stdio: 'inherit', cwd: ROOT },
);
process.exit(r.status ?? 1);
