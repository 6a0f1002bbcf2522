// Shared by the benchmarks that time whole processes: wall time spawn-to-exit and, through /usr/bin/time,
// CPU seconds and peak RSS of the child.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';

const timeDir = mkdtempSync(path.join(os.tmpdir(), 'refusenik-time-'));

/** Runs argv; returns stdout, wall seconds and (where /usr/bin/time exists) CPU seconds and peak RSS MB. */
export async function timed(argv, opts = {}) {
  const timeFile = path.join(timeDir, 'time.txt');
  const useTime = existsSync('/usr/bin/time');
  const cmd = useTime ? '/usr/bin/time' : argv[0];
  const full = useTime ? ['-f', '%U %S %M', '-o', timeFile, ...argv] : argv.slice(1);
  const t0 = performance.now();
  const child = spawn(cmd, full, { stdio: ['ignore', 'pipe', opts.quiet ? 'ignore' : 'inherit'], ...opts });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const [code] = await once(child, 'close');
  const wall = (performance.now() - t0) / 1000;
  if (code !== 0 && !opts.allowFailure)
    throw new Error(`${argv.join(' ')} exited ${code}: ${out.slice(0, 300)}`);
  let cpuS, rssMb;
  if (useTime) {
    const [u, s, m] = readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    cpuS = u + s;
    rssMb = m / 1024;
  }
  return { out, wall, cpuS, rssMb, code };
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export const r3 = (x) => (x === undefined ? undefined : Number(x.toFixed(3)));

/** A loopback mock model server (`refusenik mock-server`) in its own process. */
export async function startMockServer(bin, latency) {
  const child = spawn(
    process.execPath,
    [bin, 'mock-server', '--port', '0', '--latency', String(latency), '--script', 'comply'],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  const [line] = await once(child.stdout, 'data');
  return {
    url: JSON.parse(String(line)).url,
    stop: () => child.kill('SIGTERM'),
    /** CPU seconds the server has used so far (Linux /proc; undefined elsewhere). */
    cpuS: () => procCpuS(child.pid),
  };
}

/** User + system CPU seconds of a running process, from /proc/<pid>/stat (fields 14 and 15, in ticks). */
function procCpuS(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}
