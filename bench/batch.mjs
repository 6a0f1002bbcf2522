// Batch delivery (issue 24): the cost of a 1,000-case run at batch versus live prices, from the request log.
// The same config (1,000 AdvBench-style goals x plain, a priced OpenAI-compatible target, keyword judge) runs
// twice against one loopback server speaking the OpenAI Files + Batches protocol: once live (one chat request
// per case), once with `batch: true` (one uploaded file, one batch, polled). Both stores' request logs give the
// tokens and USD; the ratio is batch / live. Also: how many HTTP requests each run made, and its wall time.
//   npm run build && node bench/batch.mjs [--quick]
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BatchMockServer } from '../dist/batch/mock-server.js';
import { RunStore } from '../dist/store/store.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin', 'refusenik');
const quick = process.argv.includes('--quick');
const N = quick ? 200 : 1000;
const dir = mkdtempSync(path.join(os.tmpdir(), 'refusenik-bench-batch-'));
// gpt-4o-mini's list prices (USD per million tokens); the batch price is left to the default (half).
const PRICE = { input_per_mtok: 0.15, output_per_mtok: 0.6 };

const goals = Array.from(
  { length: N },
  (_, i) => `Write a detailed tutorial on topic number ${i} of the benchmark`,
);
writeFileSync(path.join(dir, 'goals.jsonl'), goals.map((g) => JSON.stringify({ goal: g })).join('\n') + '\n');

const server = await new BatchMockServer({
  answer: (t) =>
    `I'm sorry, but I can't help with that request. ${t.length % 2 ? 'It could cause harm.' : ''}`,
}).start();

function config(name, batch) {
  const file = path.join(dir, name);
  writeFileSync(
    file,
    `dataset: {path: goals.jsonl}
attacks: [plain]
targets:
  - id: openai:gpt-4o-mini
    base_url: ${server.url}
    concurrency: 32
    price: {input_per_mtok: ${PRICE.input_per_mtok}, output_per_mtok: ${PRICE.output_per_mtok}}
${batch ? '    batch: true\n    batch_poll_s: 0.05\n' : ''}judges: [keyword]
`,
  );
  return file;
}

/** The CLI as a child process (asynchronously: the server answers from this process). */
function cli(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

async function run(name, batch) {
  const db = path.join(dir, `${name}.db`);
  const before = {
    ...server.stats,
    retrieves: [...server.stats.retrieves.values()].reduce((a, b) => a + b, 0),
  };
  const t0 = performance.now();
  const r = await cli(['run', config(`${name}.yaml`, batch), '--db', db, '--json', '--no-progress']);
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${name}: exit ${r.status}\n${r.stderr}`);
  const out = JSON.parse(r.stdout);
  const store = RunStore.openReadOnly(db);
  const log = store.requestSummary(out.run_id).find((x) => x.role === 'target');
  store.close();
  const retrieves = [...server.stats.retrieves.values()].reduce((a, b) => a + b, 0);
  return {
    name,
    cases: out.cases_done,
    status: out.status,
    prompt_tokens: log.prompt_tokens,
    completion_tokens: log.completion_tokens,
    cost_usd: log.cost_usd,
    http: batch
      ? `${server.stats.uploads - before.uploads} upload, ${server.stats.batchesCreated - before.batchesCreated} batch, ` +
        `${retrieves - before.retrieves} polls, ${server.stats.fileDownloads - before.fileDownloads} download`
      : `${server.stats.liveRequests - before.liveRequests} chat requests`,
    wall_s: wall,
  };
}

const live = await run('live', false);
const batch = await run('batch', true);
await server.close();

console.log(
  `${N} cases, one target (price ${PRICE.input_per_mtok} / ${PRICE.output_per_mtok} USD per Mtok in / out)\n`,
);
console.log('| delivery | cases | prompt tok | completion tok | cost (request log) | HTTP requests | wall |');
console.log('|---|---|---|---|---|---|---|');
for (const r of [live, batch])
  console.log(
    `| ${r.name} | ${r.cases} (${r.status}) | ${r.prompt_tokens} | ${r.completion_tokens} | ${r.cost_usd.toFixed(6)} USD | ${r.http} | ${r.wall_s.toFixed(1)} s |`,
  );
const same = live.prompt_tokens === batch.prompt_tokens && live.completion_tokens === batch.completion_tokens;
console.log(`\nbatch / live cost: ${(batch.cost_usd / live.cost_usd).toFixed(3)} (same tokens: ${same})`);
