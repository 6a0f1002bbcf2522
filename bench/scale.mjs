// Past one endpoint (issue 24 items 2 and 3):
//  1. replica pools: throughput of one target over 1, 2 and 4 replicas of a loopback OpenAI-compatible server
//     (each replica its own `refusenik mock-server` process, 50 ms per answer), with a fixed concurrency per
//     replica, side by side; ratios against 1 replica (ideal: 1, 2, 4);
//  2. shards: `runs merge` of 4 shard stores of 25,000 cases each (a case, a verdict and a cache entry
//     each), then the same merge with one shard given twice (duplicates dropped).
//   npm run build && node bench/scale.mjs [--quick]
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ModelCalls } from '../dist/service/model-calls.js';
import { createTarget } from '../dist/target/create.js';
import { limitsOf } from '../dist/runner/plan.js';
import { RunStore } from '../dist/store/store.js';
import { mergeStores } from '../dist/store/merge.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin', 'refusenik');
const quick = process.argv.includes('--quick');
const dir = mkdtempSync(path.join(os.tmpdir(), 'refusenik-bench-scale-'));

// ---- 1. replica pools ------------------------------------------------------------------------------------
const LATENCY_MS = 50;
const PER_REPLICA = 8;
const REQUESTS_PER_REPLICA = quick ? 200 : 800;

async function startReplica() {
  const child = spawn(
    process.execPath,
    [BIN, 'mock-server', '--port', '0', '--latency', String(LATENCY_MS)],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    const m = /(http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(line);
    if (m) return { child, url: m[1] };
  }
  throw new Error('mock-server printed no URL');
}

async function poolRun(urls) {
  const spec = { id: 'openai:bench', base_url: urls.length === 1 ? urls[0] : urls, concurrency: PER_REPLICA };
  const target = createTarget(spec, { env: {}, baseDir: dir }, 'targets[0]');
  const calls = new ModelCalls({ breakerThreshold: 0 });
  const t = calls.wrap(target, 'target', 'target', limitsOf(spec));
  const n = REQUESTS_PER_REPLICA * urls.length;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < n) {
      const i = next++;
      await t.generate({ kind: 'chat', messages: [{ role: 'user', content: `pool bench ${i}` }] });
    }
  };
  await Promise.all(Array.from({ length: t.concurrency }, worker));
  const s = (performance.now() - t0) / 1000;
  await target.close();
  return { replicas: urls.length, requests: n, seconds: s, perSecond: n / s };
}

const replicas = await Promise.all([0, 1, 2, 3].map(() => startReplica()));
try {
  const urls = replicas.map((r) => r.url);
  await poolRun(urls.slice(0, 1)); // warm-up: JIT, connections
  const rows = [];
  for (const k of [1, 2, 4]) rows.push(await poolRun(urls.slice(0, k)));
  const base = rows[0].perSecond;
  console.log(
    `\nreplica pools: ${PER_REPLICA} concurrent requests per replica, ${LATENCY_MS} ms per answer ` +
      `(ideal ${((PER_REPLICA * 1000) / LATENCY_MS).toFixed(0)} req/s per replica), ${REQUESTS_PER_REPLICA} requests per replica`,
  );
  console.log('| replicas | requests | s | req/s | vs 1 replica | ideal |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${r.replicas} | ${r.requests} | ${r.seconds.toFixed(2)} | ${r.perSecond.toFixed(0)} | ` +
        `**${(r.perSecond / base).toFixed(2)}** | ${r.replicas} |`,
    );
} finally {
  for (const r of replicas) r.child.kill('SIGTERM');
  await Promise.all(replicas.map((r) => once(r.child, 'close')));
}

// ---- 2. merging shard stores -----------------------------------------------------------------------------
const SHARDS = 4;
const PER_SHARD = quick ? 5000 : 25_000;
const RUN = 'run-benchscale01';
const answer = 'I am sorry, but I cannot help with that request. '.repeat(8);

function shardStore(index) {
  const file = path.join(dir, `shard${index}.db`);
  const store = RunStore.open(file);
  store.createRun({
    id: RUN,
    name: 'bench',
    status: 'complete',
    config: { dataset: { path: 'goals.jsonl' }, attacks: ['plain'], targets: [{ id: 'openai:bench' }] },
    config_hash: 'c'.repeat(64),
    config_file: null,
    versions: {
      dataset_sha256: 'd'.repeat(64),
      shard: { index, count: SHARDS, cases: PER_SHARD, plan_cases: SHARDS * PER_SHARD },
    },
    cases_total: PER_SHARD,
  });
  const now = new Date().toISOString();
  for (let i = 0; i < PER_SHARD; i++) {
    const n = index * PER_SHARD + i;
    const caseId = n.toString(16).padStart(16, '0');
    const goal = `bench goal ${n}`;
    store.putCase({
      run_id: RUN,
      case_id: caseId,
      behavior_id: `b${n}`,
      goal,
      category: 'bench',
      behavior_json: JSON.stringify({ id: `b${n}`, text: goal }),
      attack: 'plain',
      variant: 'plain',
      target: 'openai:bench',
      sample: 0,
      status: 'ok',
      prompt_json: JSON.stringify({ kind: 'chat', messages: [{ role: 'user', content: goal }] }),
      response: answer,
      answer,
      finish_reason: 'stop',
      latency_ms: 50,
      attempts: 1,
      cached: 0,
      prompt_tokens: 4,
      completion_tokens: 80,
      trace_json: null,
      error: null,
      error_kind: null,
      created_at: now,
      request_cost_usd: 0,
      replica: null,
    });
    store.putVerdict(RUN, caseId, { judge: 'keyword', refusal: true, harmful: false });
    store.cachePut(`key-${caseId}`, 'openai:bench', {
      text: answer,
      latencyMs: 50,
      attempts: 1,
      cached: false,
    });
  }
  store.close();
  return file;
}

const t0 = performance.now();
const shards = Array.from({ length: SHARDS }, (_, i) => shardStore(i));
console.log(
  `\nshard stores: ${SHARDS} x ${PER_SHARD} cases written in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);
const merges = [];
for (const [label, inputs] of [
  [`${SHARDS} shards`, shards],
  [`${SHARDS} shards + one again (${PER_SHARD} duplicates)`, [...shards, shards[1]]],
]) {
  const out = path.join(dir, `merged-${merges.length}.db`);
  const m0 = performance.now();
  const r = mergeStores({ inputs, out });
  const s = (performance.now() - m0) / 1000;
  merges.push({ label, cases: r.cases, duplicates: r.duplicates, s });
}
console.log('| merge | cases kept | duplicates dropped | s | cases/s |');
console.log('|---|---|---|---|---|');
for (const m of merges)
  console.log(
    `| ${m.label} | ${m.cases} | ${m.duplicates} | ${m.s.toFixed(2)} | ${Math.round(m.cases / m.s)} |`,
  );
