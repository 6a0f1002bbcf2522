// The model-call service under faults and kills (issue 10), the target AND a model judge both behind it:
//  1. fault soak: 800 cases, 20% of the target's and the judge's first attempts fail (429, 500, 503,
//     malformed JSON, connection reset, a hang past the first-byte timeout): completion, duplicates, retries;
//  2. kill loop: the same run SIGKILLed 10 times, then finished: every case and verdict stored once, no
//     finished case re-sent;
//  3. service overhead per call: the same 4,000 calls straight to the target, through the unbound service
//     (limiter, accounting) and through the service bound to a store (cache lookup + write, request log),
//     side by side in one process, as CPU ms per call.
//   npm run build && node bench/service.mjs [--quick]
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { MockServer } from '../dist/target/mock-server.js';
import { RunStore } from '../dist/store/store.js';
import { ModelCalls } from '../dist/service/model-calls.js';
import { createTarget } from '../dist/target/create.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin', 'refusenik');
const quick = process.argv.includes('--quick');
const N = quick ? 200 : 800;
const dir = mkdtempSync(path.join(os.tmpdir(), 'refusenik-bench-service-'));
const KINDS = ['429', '500', '503', 'malformed', 'reset', 'timeout'];

const goals = Array.from({ length: N }, (_, i) => `service bench goal ${i}`);
writeFileSync(path.join(dir, 'goals.jsonl'), goals.map((g) => JSON.stringify({ goal: g })).join('\n') + '\n');

/** One fault on the first attempt of every fifth prompt, kinds in turn. */
function faultsFor(prompts, offset) {
  return prompts
    .map((p, i) => ({ p, i }))
    .filter(({ i }) => (i + offset) % 5 === 0)
    .map(({ p, i }, k) => ({
      kind: KINDS[k % KINDS.length],
      times: 1,
      match: new RegExp(`${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?!\\d)`),
      retryAfter: 0,
      _i: i,
    }));
}

function config(name, targetUrl, judgeUrl, concurrency) {
  const file = path.join(dir, name);
  writeFileSync(
    file,
    `dataset: {path: goals.jsonl}
attacks: [plain]
targets:
  - {id: "openai:victim", base_url: "${targetUrl}", concurrency: ${concurrency}, timeout_s: 1, backoff_s: 0.01, retries: 3}
models:
  judge: {id: "openai:judge", base_url: "${judgeUrl}", concurrency: ${concurrency}, timeout_s: 1, backoff_s: 0.01, retries: 3}
judges:
  - keyword
  - qi2023: {model: judge}
circuit_breaker: 0
`,
  );
  return file;
}

function runCli(args) {
  // The qi2023 judge reads its prompt from the codeattack pack (REFUSENIK_DATA_DIR, else ../shared/data).
  const env = {
    ...process.env,
    REFUSENIK_DATA_DIR: process.env.REFUSENIK_DATA_DIR ?? path.resolve(ROOT, '../shared/data'),
  };
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  return { child, done: once(child, 'close').then(([code, signal]) => ({ code, signal, out, err })) };
}

function storeFacts(db) {
  const store = RunStore.open(db);
  const [run] = store.listRuns();
  const cases = [...store.iterateCases(run.id)];
  const verdicts = [...store.iterateVerdicts(run.id)];
  const requests = store.requestSummary(run.id);
  store.close();
  return {
    status: run.status,
    ok: cases.filter((c) => c.status === 'ok').length,
    errors: cases.filter((c) => c.status === 'error').length,
    retries: cases.reduce((s, c) => s + Math.max(0, (c.attempts ?? 1) - 1), 0),
    verdicts_ok: verdicts.filter((v) => v.error === null).length,
    requests,
  };
}

function duplicates(server, prompts, expected) {
  // Requests beyond the ones the faults and retries explain: a prompt sent twice after it had succeeded.
  let extra = 0;
  for (const p of prompts) extra += Math.max(0, (server.stats.byPrompt.get(p) ?? 0) - (expected(p) ?? 1));
  return extra;
}

const out = {};

// ---- 1. fault soak -------------------------------------------------------------------------------------
{
  const targetFaults = faultsFor(goals, 0);
  const target = await new MockServer({ script: 'comply', latencyMs: 20, faults: targetFaults }).start();
  const judgeFaults = faultsFor(goals, 2);
  const judge = await new MockServer({ script: 'judge', latencyMs: 20, faults: judgeFaults }).start();
  const db = path.join(dir, 'soak.db');
  const cfg = config('soak.yaml', target.url, judge.url, 32);
  const t0 = performance.now();
  const r = await runCli(['run', cfg, '--db', db, '--json', '--no-progress']).done;
  if (r.code !== 0) console.error(r.err);
  const faulted = new Set(targetFaults.map((f) => goals[f._i]));
  const facts = storeFacts(db);
  out.fault_soak = {
    cases: N,
    faults_injected_target: target.stats.faultsInjected,
    exit: r.code,
    status: facts.status,
    cases_ok: facts.ok,
    case_errors: facts.errors,
    verdicts_ok: facts.verdicts_ok,
    verdicts_expected: 2 * N,
    target_retries: facts.retries,
    duplicate_target_requests: duplicates(target, goals, (p) => (faulted.has(p) ? 2 : 1)),
    faults_injected_judge: judge.stats.faultsInjected,
    judge_requests: judge.stats.requests,
    wall_s: Number(((performance.now() - t0) / 1000).toFixed(2)),
  };
  await target.close();
  await judge.close();
}

// ---- 2. kill loop --------------------------------------------------------------------------------------
{
  const target = await new MockServer({ script: 'comply', latencyMs: 30 }).start();
  const judge = await new MockServer({ script: 'judge', latencyMs: 30 }).start();
  const db = path.join(dir, 'kill.db');
  const cfg = config('kill.yaml', target.url, judge.url, 8);
  let kills = 0;
  const sentAtKill = [];
  for (; kills < 10; kills++) {
    const { child, done } = runCli(['run', cfg, '--db', db, '--json', '--no-progress']);
    const start = target.stats.requests;
    const step = Math.max(5, Math.floor(N / 25));
    while (target.stats.requests - start < step) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    await done;
    sentAtKill.push(target.stats.requests);
    // The next process may start right away: a dead holder's lease is taken over at once on this host.
  }
  const last = await runCli(['run', cfg, '--db', db, '--json', '--no-progress']).done;
  const facts = storeFacts(db);
  let sentTwice = 0;
  for (const p of goals) sentTwice += Math.max(0, (target.stats.byPrompt.get(p) ?? 0) - 1);
  out.kill_loop = {
    cases: N,
    sigkills: kills,
    exit: last.code,
    status: facts.status,
    cases_ok: facts.ok,
    verdicts_ok: facts.verdicts_ok,
    verdicts_expected: 2 * N,
    target_prompts_sent_twice: sentTwice,
    in_flight_bound: kills * 8,
    judge_requests: judge.stats.requests,
    judge_requests_beyond_one_per_case: judge.stats.requests - N,
  };
  await target.close();
  await judge.close();
}

// ---- 3. service overhead per call ---------------------------------------------------------------------
{
  const server = await new MockServer({ script: 'comply' }).start();
  const calls = quick ? 1000 : 4000;
  const spec = { id: 'openai:m', base_url: server.url, concurrency: 64 };
  const env = { env: {}, baseDir: dir };
  const variants = {
    direct: () => createTarget(spec, env, 't'),
    service_unbound: () => new ModelCalls().wrap(createTarget(spec, env, 't'), 'target', 'target'),
    service_store_cache_log: () => {
      const store = RunStore.open(path.join(dir, `overhead-${Date.now()}.db`));
      store.createRun({
        id: 'run-bench',
        name: null,
        status: 'running',
        config_json: '{}',
        config_hash: '',
        config_file: null,
        versions_json: '{}',
        cases_total: calls,
      });
      return new ModelCalls()
        .bind(store, 'run-bench', true)
        .wrap(createTarget(spec, env, 't'), 'target', 'target');
    },
  };
  const rows = {};
  for (let round = 0; round < 3; round++) {
    for (const [name, make] of Object.entries(variants)) {
      const t = make();
      let next = 0;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (next < calls) {
            const i = next++;
            await t.generate({
              kind: 'chat',
              messages: [{ role: 'user', content: `overhead ${round} ${i}` }],
            });
          }
        }),
      );
      const cpu = process.cpuUsage(cpu0);
      await t.close?.();
      (rows[name] ??= []).push({
        cpu_ms_per_call: (cpu.user + cpu.system) / 1000 / calls,
        wall_s: (performance.now() - t0) / 1000,
      });
    }
  }
  const best = (name) => Math.min(...rows[name].map((r) => r.cpu_ms_per_call));
  out.service_overhead = {
    calls_per_variant: calls,
    rounds: 3,
    cpu_ms_per_call_best_of_3: Object.fromEntries(
      Object.keys(rows).map((n) => [n, Number(best(n).toFixed(4))]),
    ),
    ratio_unbound_vs_direct: Number((best('service_unbound') / best('direct')).toFixed(2)),
    ratio_store_vs_direct: Number((best('service_store_cache_log') / best('direct')).toFixed(2)),
    note: 'CPU of this process, which also runs the mock server',
  };
  await server.close();
}

console.log(JSON.stringify(out, null, 2));
