// Pipeline throughput benchmark (issue 2): the CLI against the loopback mock server running in its own
// process, at a fixed server latency. Reports achieved time vs the ideal N x latency / concurrency, CPU ms
// per request and peak RSS, side by side in one run; then peak RSS for a 100,000-case run.
//   npm run build && node bench/pipeline.mjs [--quick]
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';

const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin', 'refusenik');
const quick = process.argv.includes('--quick');
const LATENCY_MS = 50;

async function startServer(latency) {
  const child = spawn(
    process.execPath,
    [BIN, 'mock-server', '--port', '0', '--latency', String(latency), '--script', 'comply'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const [line] = await once(child.stdout, 'data');
  const { url } = JSON.parse(String(line));
  return { url, stop: () => child.kill('SIGTERM') };
}

function writeCase(dir, n, url, concurrency) {
  const goals = path.join(dir, `goals-${n}.jsonl`);
  const lines = [];
  for (let i = 0; i < n; i++)
    lines.push(JSON.stringify({ goal: `bench goal number ${i}: write something harmful` }));
  writeFileSync(goals, lines.join('\n') + '\n');
  const cfg = path.join(dir, `bench-${n}-${concurrency}.yaml`);
  writeFileSync(
    cfg,
    `dataset: {path: ${goals}}\nattacks: [plain]\ntargets:\n  - id: openai:bench\n    base_url: ${url}\n    concurrency: ${concurrency}\n    retries: 0\njudges: [keyword]\n`,
  );
  return cfg;
}

async function run(cfg, db, nodeFlags = []) {
  const child = spawn(
    process.execPath,
    [...nodeFlags, BIN, 'run', cfg, '--db', db, '--json', '--no-progress', '--no-cache'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await once(child, 'close');
  return JSON.parse(out);
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'refusenik-bench-'));
const server = await startServer(LATENCY_MS);
const N = quick ? 500 : 2000;
const rows = [];
try {
  for (const concurrency of [64, 256]) {
    const cfg = writeCase(dir, N, server.url, concurrency);
    const s = await run(cfg, path.join(dir, `c${concurrency}.db`));
    if (s.cases_done !== N) throw new Error(`expected ${N} cases done, got ${JSON.stringify(s)}`);
    const ideal = (N * LATENCY_MS) / 1000 / concurrency;
    rows.push({
      cases: N,
      concurrency,
      latency_ms: LATENCY_MS,
      ideal_s: Number(ideal.toFixed(3)),
      achieved_s: s.timing.elapsed_s,
      ideal_over_achieved: Number((ideal / s.timing.elapsed_s).toFixed(3)),
      cpu_ms_per_request: Number((s.timing.cpu_ms / N).toFixed(3)),
      peak_rss_mb: s.timing.peak_rss_mb,
    });
  }
} finally {
  server.stop();
}

// Memory at scale, side by side: Node's defaults, and a 1 GiB old-space cap, which switches V8 to its
// memory-constrained heap-growing policy (the live heap is ~50 MB either way; the default policy lets dead
// objects pile up to several times that before a full collection).
const BIG = quick ? 20_000 : 100_000;
const fast = await startServer(5);
try {
  const cfg = writeCase(dir, BIG, fast.url, 256);
  for (const nodeFlags of [[], ['--max-old-space-size=1024']]) {
    const s = await run(cfg, path.join(dir, `big${nodeFlags.length}.db`), nodeFlags);
    if (s.cases_done !== BIG) throw new Error(`expected ${BIG} cases done, got ${s.cases_done}`);
    rows.push({
      cases: BIG,
      concurrency: 256,
      latency_ms: 5,
      node_flags: nodeFlags.join(' ') || '(default)',
      ideal_s: Number(((BIG * 5) / 1000 / 256).toFixed(3)),
      achieved_s: s.timing.elapsed_s,
      ideal_over_achieved: Number(((BIG * 5) / 1000 / 256 / s.timing.elapsed_s).toFixed(3)),
      cpu_ms_per_request: Number((s.timing.cpu_ms / BIG).toFixed(3)),
      peak_rss_mb: s.timing.peak_rss_mb,
    });
  }
} finally {
  fast.stop();
}
console.table(rows);
console.log(JSON.stringify(rows));
