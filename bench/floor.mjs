// Per-case cost against the HTTP floor (issue 13), side by side in one run, alternating:
//   bare       a bare undici loop sending the same requests (bench/lib/bare-client.mjs)
//   refusenik  this checkout (build first)
//   base       another commit, built in a temporary worktree (`--against <git-ref>`, e.g. the last main)
// Workloads (loopback mock server in its own process, fixed latency): 2,000 x 50 ms at c=64 and c=256,
// 20,000 x 20 ms at c=256; then start-up (`--help`, a 1-case run) and peak RSS at 100,000 cases with
// default flags. Ratios are what to read: these machines are shared and noisy.
//   npm run build && node bench/floor.mjs [--quick] [--startup-only] [--against <git-ref>] [--reps N]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { median, r3, startMockServer, timed } from './lib/proc.mjs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const flag = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const reps = Number(flag('--reps') ?? (quick ? 1 : 3));
const against = flag('--against');
const dir = mkdtempSync(path.join(os.tmpdir(), 'refusenik-floor-'));

/** A built copy of another commit, for side-by-side numbers against it. */
function buildAgainst(ref) {
  const wt = path.join(dir, 'base');
  execFileSync('git', ['worktree', 'add', '--detach', wt, ref], { cwd: ROOT, stdio: 'ignore' });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(wt, 'node_modules'));
  execFileSync(
    process.execPath,
    [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: wt,
      stdio: 'inherit',
    },
  );
  // Builds since the lazy CLI also write the help manifest (`npm run build` does both).
  const manifest = path.join(wt, 'dist/cli/help-manifest.js');
  if (existsSync(manifest)) execFileSync(process.execPath, [manifest], { cwd: wt, stdio: 'inherit' });
  return wt;
}

const sides = [{ name: 'refusenik', bin: path.join(ROOT, 'bin', 'refusenik') }];
let worktree;
if (against) {
  worktree = buildAgainst(against);
  sides.push({ name: `base (${against})`, bin: path.join(worktree, 'bin', 'refusenik') });
}

const startServer = (latency) => startMockServer(sides[0].bin, latency);

function writeWorkload(n, url, concurrency) {
  const goals = path.join(dir, `goals-${n}.jsonl`);
  if (!existsSync(goals)) {
    const lines = [];
    for (let i = 0; i < n; i++)
      lines.push(JSON.stringify({ goal: `bench goal number ${i}: write something harmful` }));
    writeFileSync(goals, lines.join('\n') + '\n');
  }
  const cfg = path.join(dir, `w-${n}-${concurrency}-${url.split(':').pop().replace(/\W/g, '')}.yaml`);
  writeFileSync(
    cfg,
    `dataset: {path: ${goals}}\nattacks: [plain]\ntargets:\n  - id: openai:bench\n    base_url: ${url}\n    concurrency: ${concurrency}\n    retries: 0\njudges: [keyword]\n`,
  );
  return { goals, cfg };
}

let dbN = 0;
async function runSide(side, cfg) {
  const db = path.join(dir, `run-${dbN++}.db`);
  const r = await timed([
    process.execPath,
    side.bin,
    'run',
    cfg,
    '--db',
    db,
    '--json',
    '--no-progress',
    '--no-cache',
  ]);
  rmSync(db, { force: true });
  rmSync(`${db}-wal`, { force: true });
  rmSync(`${db}-shm`, { force: true });
  return { ...r, summary: JSON.parse(r.out) };
}

// --startup-only: just the start-up figures (no workloads, no 100k-case memory run); --memory-only: just the
// 100k-case run.
const startupOnly = args.includes('--startup-only');
const memoryOnly = args.includes('--memory-only');
const workloads =
  startupOnly || memoryOnly
    ? []
    : quick
      ? [
          { n: 500, latency: 50, concurrency: 64 },
          { n: 4000, latency: 20, concurrency: 256 },
        ]
      : [
          { n: 2000, latency: 50, concurrency: 64 },
          { n: 2000, latency: 50, concurrency: 256 },
          { n: 20000, latency: 20, concurrency: 256 },
        ];

const rows = [];
const servers = new Map();
try {
  for (const w of workloads) {
    if (!servers.has(w.latency)) servers.set(w.latency, await startServer(w.latency));
    const server = servers.get(w.latency);
    const { url } = server;
    /** Runs `fn` and adds the server's CPU seconds during it to what fn returns. */
    const withServerCpu = async (fn) => {
      const before = server.cpuS();
      const r = await fn();
      const after = server.cpuS();
      return { ...r, serverCpuS: before === undefined || after === undefined ? undefined : after - before };
    };
    const { goals, cfg } = writeWorkload(w.n, url, w.concurrency);
    const samples = { bare: [] };
    for (const s of sides) samples[s.name] = [];
    for (let rep = 0; rep < reps; rep++) {
      const b = await withServerCpu(() =>
        timed([
          process.execPath,
          path.join(ROOT, 'bench/lib/bare-client.mjs'),
          url,
          goals,
          String(w.concurrency),
        ]),
      );
      const bs = JSON.parse(b.out);
      if (bs.requests !== w.n) throw new Error(`bare loop: ${bs.requests}/${w.n} answers`);
      samples.bare.push({
        run_s: bs.elapsed_s,
        run_cpu_ms: bs.cpu_ms,
        wall: b.wall,
        cpuS: b.cpuS,
        rssMb: b.rssMb,
        serverCpuS: b.serverCpuS,
      });
      for (const s of sides) {
        const r = await withServerCpu(() => runSide(s, cfg));
        if (r.summary.cases_done !== w.n || r.summary.errors !== 0)
          throw new Error(`${s.name}: ${r.summary.cases_done}/${w.n} cases, ${r.summary.errors} errors`);
        samples[s.name].push({
          run_s: r.summary.timing.elapsed_s,
          run_cpu_ms: r.summary.timing.cpu_ms,
          wall: r.wall,
          cpuS: r.cpuS,
          rssMb: r.rssMb,
          serverCpuS: r.serverCpuS,
        });
      }
    }
    const bareWall = median(samples.bare.map((x) => x.wall));
    const bareRun = median(samples.bare.map((x) => x.run_s));
    for (const [name, xs] of Object.entries(samples)) {
      const wall = median(xs.map((x) => x.wall));
      const run = median(xs.map((x) => x.run_s));
      rows.push({
        workload: `${w.n} x ${w.latency} ms c=${w.concurrency}`,
        side: name,
        process_wall_s: r3(wall),
        run_wall_s: r3(run),
        'process/bare': r3(wall / bareWall),
        'run/bare': r3(run / bareRun),
        run_cpu_ms_per_case: r3(median(xs.map((x) => x.run_cpu_ms)) / w.n),
        process_cpu_ms_per_case:
          xs[0].cpuS === undefined ? undefined : r3((median(xs.map((x) => x.cpuS)) * 1000) / w.n),
        peak_rss_mb: xs[0].rssMb === undefined ? undefined : Math.round(median(xs.map((x) => x.rssMb))),
        // How busy the two cores were: client and server CPU over the client's process wall. Near the
        // core count, a second client thread has no idle core to run on.
        cores_busy:
          xs[0].cpuS === undefined || xs[0].serverCpuS === undefined
            ? undefined
            : r3(median(xs.map((x) => (x.cpuS + x.serverCpuS) / x.wall))),
      });
    }
  }
  if (rows.length) console.table(rows);

  const startup = [];
  if (!memoryOnly) {
    // Start-up: `--help`, and a whole 1-case run (fresh store) against a 0 ms server.
    const zero = await startServer(0);
    servers.set(0, zero);
    const one = writeWorkload(1, zero.url, 1);
    const n = quick ? 3 : 9;
    const help = Object.fromEntries(sides.map((s) => [s.name, []]));
    const single = Object.fromEntries(sides.map((s) => [s.name, []]));
    for (let i = 0; i < n; i++) {
      for (const s of sides) {
        help[s.name].push((await timed([process.execPath, s.bin, '--help'])).wall);
        single[s.name].push((await runSide(s, one.cfg)).wall);
      }
    }
    for (const s of sides) {
      startup.push({
        side: s.name,
        help_s: r3(median(help[s.name])),
        one_case_run_s: r3(median(single[s.name])),
      });
    }
    console.table(startup);
  }

  // Peak RSS of a 100,000-case run with Node's default flags (medians of --reps runs, sides alternating).
  const memory = [];
  if (!args.includes('--no-memory') && !startupOnly) {
    const big = quick ? 20_000 : 100_000;
    const fast = servers.get(5) ?? (await startServer(5));
    servers.set(5, fast);
    const w = writeWorkload(big, fast.url, 256);
    const seen = Object.fromEntries(sides.map((s) => [s.name, { wall: [], rss: [] }]));
    for (let rep = 0; rep < reps; rep++) {
      for (const s of rep % 2 ? [...sides].reverse() : sides) {
        const r = await runSide(s, w.cfg);
        if (r.summary.cases_done !== big) throw new Error(`${s.name}: ${r.summary.cases_done}/${big} cases`);
        seen[s.name].wall.push(r.wall);
        seen[s.name].rss.push(r.summary.timing.peak_rss_mb);
      }
    }
    for (const s of sides) {
      memory.push({
        side: s.name,
        cases: big,
        wall_s: r3(median(seen[s.name].wall)),
        peak_rss_mb: median(seen[s.name].rss),
      });
    }
    console.table(memory);
  }
  console.log(JSON.stringify({ rows, startup, memory }));
} finally {
  for (const s of servers.values()) s.stop();
  if (worktree) spawnSync('git', ['worktree', 'remove', '--force', worktree], { cwd: ROOT, stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
}
