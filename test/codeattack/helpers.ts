import { spawnSync } from 'node:child_process';

/** Is this command on the PATH (it runs `cmd ...versionArgs` successfully)? */
export function hasTool(cmd: string, versionArgs: string[] = ['--version']): boolean {
  const r = spawnSync(cmd, versionArgs, { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

export const HAS_PYTHON = hasTool('python3');

/** Runs a Python snippet that reads JSON on stdin and prints JSON. */
export function python(script: string, input: unknown): unknown {
  const r = spawnSync('python3', ['-c', script], {
    input: JSON.stringify(input),
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  if (r.error || r.status !== 0) throw new Error(`python3 failed: ${r.error?.message ?? r.stderr}`);
  return JSON.parse(r.stdout);
}
