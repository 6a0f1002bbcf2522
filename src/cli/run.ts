import path from 'node:path';
import { hasRedactedValues } from '../util/secrets.js';
import type { Command } from 'commander';
import Table from 'cli-table3';
import { InputError } from '../errors.js';
import { loadRunConfig } from '../config/load.js';
import { RunConfig } from '../config/schema.js';
import { parseWith, type ConfigSource } from '../config/validate.js';
import { dataDir } from '../data/dir.js';
import { DEFAULT_DB, RunStore, type RunRecord } from '../store/store.js';
import { casesFor, runIdFor, type RunPlan } from '../runner/plan.js';
import { assertSameDataset, executeConfig, type ConfigRun, type StoredRunResult } from '../runner/session.js';
import { applyShard } from '../runner/shard.js';
import { parseShard, shardLabel, shardOf, type Shard } from '../store/shard.js';
import { asrRows } from '../analysis/asr.js';
import { displayRows } from '../report/tables.js';
import { printText, safeCells, terminalSafeJson, terminalSafeLine } from '../util/terminal.js';

interface RunFlags {
  db: string;
  resume?: string;
  fresh?: boolean;
  cache: boolean;
  json?: boolean;
  progress: boolean;
  dryRun?: boolean;
  set?: string[];
  allowErrors?: boolean;
  maxCost?: number;
  /** `--shard i/n`: this machine's share of the cases (runner/shard.ts). */
  shard?: Shard;
  /** Wait for provider batches (default), or submit them and exit (`--no-wait`). */
  wait: boolean;
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description(
      'run an evaluation: dataset x attacks x targets x judges, stored case by case in the run store. ' +
        'Re-running the same command (or --resume <run-id>) continues an interrupted run without re-sending ' +
        'finished cases; identical requests are answered from the response cache.',
    )
    .argument('[config]', 'run config (.yaml or .json); optional with --resume')
    .option('--db <file>', 'run store (SQLite)', DEFAULT_DB)
    .option('--resume <run-id>', 'continue this run with its stored config snapshot')
    .option('--fresh', 'start a new run even if this config already has one')
    .option('--no-cache', 'do not answer requests from the response cache (still records responses)')
    .option('--json', 'print one JSON summary object on stdout')
    .option('--no-progress', 'no progress bar')
    .option(
      '--set <path=value>',
      'override a config value (repeatable), e.g. --set targets[0].id=openai:gpt-4o --set dataset.limit=20',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--dry-run', 'validate the config and print the plan (cases, requests) without calling any model')
    .option('--allow-errors', 'exit 0 even when some cases ended in error (status incomplete)')
    .option(
      '--shard <i/n>',
      'run share i of n of the cases (0 <= i < n; by case id, the same split on every machine) into this ' +
        "store, under the run's one id; combine the shards' stores with: refusenik runs merge (docs/scale-out.md)",
      (v: string) => parseShard(v),
    )
    .option(
      '--wait',
      'batch delivery (batch: true): wait for the provider batches and collect them (default)',
    )
    .option(
      '--no-wait',
      'batch delivery: submit the batches (or poll stored ones once) and exit 0 with the run pending; the ' +
        'same command later collects them',
    )
    .option(
      '--max-cost <usd>',
      'stop cleanly once the run (all invocations) has spent this many USD (prices: in the config); resumable',
      (v: string) => {
        const n = Number(v);
        if (!Number.isFinite(n) || n < 0)
          throw new InputError(`--max-cost wants a number of USD, got '${v}'`);
        return n;
      },
    )
    .addHelpText(
      'after',
      '\nStatus: complete (every case answered), incomplete (some cases errored, or --max-cost stopped it),\n' +
        'failed (an endpoint failed too often in a row: its circuit opened), interrupted (Ctrl-C, or killed),\n' +
        'pending (requests wait in provider batches: --no-wait; docs/batch.md).\n' +
        'Exit codes: 0 complete or pending, 1 failed or incomplete (0 for incomplete with --allow-errors), 2 bad config or\n' +
        'data, 130 interrupted. Every status but complete resumes with the same command.\n' +
        'Example config: examples/quickstart.yaml',
    )
    .action(async (configArg: string | undefined, flags: RunFlags) => {
      process.exitCode = await runCommand(configArg, flags);
    });
}

async function runCommand(configArg: string | undefined, flags: RunFlags): Promise<number> {
  if (!configArg && !flags.resume) throw new InputError('give a config file, or --resume <run-id>');
  if (flags.resume && flags.set?.length)
    throw new InputError('--set changes the config; it cannot be used with --resume');
  const store = RunStore.open(flags.db);
  try {
    let config: RunConfig;
    let configFile: string | null;
    let baseDir: string;
    // Where attack, judge and provider options came from: their errors name its file and line.
    let source: ConfigSource;
    let resumed: RunRecord | undefined;
    if (flags.resume) {
      resumed = store.findRun(flags.resume);
      if (!resumed)
        throw new InputError(`no run '${flags.resume}' in ${flags.db} (see: refusenik runs list)`);
      const stored = resumed.config;
      if (hasRedactedValues(stored)) {
        throw new InputError(
          `run ${resumed.id} sent secrets the store never keeps (literal header values, credentials in a ` +
            'URL); resume it by running its config file again (the same command resumes), or move secrets ' +
            'to headers_env and api_key_env',
        );
      }
      source = { file: `run ${resumed.id} config` };
      config = parseWith(RunConfig, stored, [], source);
      configFile = resumed.config_file;
      baseDir = configFile ? path.dirname(configFile) : process.cwd();
    } else {
      const loaded = loadRunConfig(configArg as string, flags.set ?? []);
      config = loaded.config;
      configFile = loaded.file;
      baseDir = loaded.baseDir;
      source = { file: loaded.file, lineOf: loaded.lineOf };
    }

    let started = 0;
    let cpuStart: NodeJS.CpuUsage = { user: 0, system: 0 };
    const controller = new AbortController();
    return await executeConfig(
      {
        store,
        config,
        context: {
          dataDir: dataDir(),
          baseDir,
          source,
          env: process.env,
          dryRun: flags.dryRun === true,
          useCache: flags.cache,
          maxCostUsd: flags.maxCost,
        },
        name: config.name ?? (configFile ? path.basename(configFile) : null),
        configFile,
        progress: flags.progress,
        signal: controller.signal,
        prepare: (plan) => {
          if (plan.batches) plan.batches.wait = flags.wait !== false;
          if (resumed) assertSameDataset(resumed, plan);
          // `--shard i/n` (resuming a shard's run: the shard it is): only that share of the cases runs here.
          const stored = resumed ? shardOf(resumed) : undefined;
          const shard = flags.shard ?? (stored && { index: stored.index, count: stored.count });
          if (shard) {
            if (flags.fresh)
              throw new InputError(
                '--fresh gives this invocation a run id of its own, and the shards of a run must share one: run ' +
                  'each shard into a new --db instead',
              );
            applyShard(plan, shard, casesFor);
          }
          const runId = resumed?.id ?? runIdFor(config, plan.datasetSha256);
          return flags.fresh && !resumed ? `${runId}-${Date.now().toString(36)}` : runId;
        },
        around: async (execute) => {
          let interrupts = 0;
          const onSigint = (): void => {
            interrupts++;
            if (interrupts > 1) process.exit(130);
            process.stderr.write('\ninterrupting: finishing writes (Ctrl-C again to quit at once)...\n');
            controller.abort();
          };
          process.on('SIGINT', onSigint);
          process.on('SIGTERM', onSigint);
          started = performance.now();
          cpuStart = process.cpuUsage();
          try {
            return await execute();
          } finally {
            process.off('SIGINT', onSigint);
            process.off('SIGTERM', onSigint);
          }
        },
      },
      ({ plan, runId, result }) =>
        result
          ? printSummary(store, { plan, runId, result }, flags, configFile, () =>
              runTiming(started, cpuStart),
            )
          : printPlan(runId, plan, flags),
    );
  } finally {
    store.close();
  }
}

/** The summary of an executed run (JSON or text), and the exit code its status gives. */
function printSummary(
  store: RunStore,
  { plan, runId, result }: ConfigRun & { result: StoredRunResult },
  flags: RunFlags,
  configFile: string | null,
  timing: () => Record<string, number>,
): number {
  const { outcome, status } = result;
  const counts = store.counts(runId);
  const pendingBatches = store.batches
    .forRun(runId)
    .filter((b) => b.state === 'pending')
    .map((b) => ({
      id: b.id,
      target: b.target,
      requests: b.requests,
      status: b.provider_status,
      since: b.submitted_at,
    }));
  const errorGroups = store.errorGroups(runId);
  const usage = plan.calls.usageByRole();
  const rows = asrRows(
    store,
    runId,
    plan.judges.map((j) => j.id),
  );
  const summary = {
    run_id: runId,
    status,
    db: flags.db,
    cases_total: plan.casesTotal,
    ...(plan.shard ? { shard: shardLabel(plan.shard), plan_cases: plan.planCases } : {}),
    cases_done: counts.ok,
    errors: counts.errors,
    skipped: outcome.skipped,
    requests_sent: outcome.sent,
    requests_cached: outcome.cached,
    requests_failed: outcome.failed,
    attempts: outcome.attempts,
    ...(outcome.halted ? { stopped: outcome.halted } : {}),
    ...(pendingBatches.length ? { pending_batches: pendingBatches } : {}),
    error_groups: errorGroups,
    usage,
    cost_usd: Number(plan.calls.spent().toFixed(6)),
    timing: timing(),
    rows,
  };
  if (flags.json) process.stdout.write(`${terminalSafeJson(JSON.stringify(summary))}\n`);
  else {
    // Target labels, judge ids and error texts come from users and servers: shown, never interpreted.
    const [head, ...body] = safeCells(displayRows(rows));
    const table = new Table({ head, style: { head: [], border: [] } });
    for (const r of body) table.push(r);
    printText(`${table.toString()}\n`);
    printText(
      `run ${runId}: ${status}; ${counts.ok}/${plan.casesTotal} cases done, ${counts.errors} errors, ` +
        `${outcome.sent} requests answered, ${outcome.cached} from cache, ${outcome.failed} failed; ` +
        `${outcome.attempts} attempts in all\n`,
    );
    for (const u of usage) {
      printText(
        `  ${u.role}: ${u.requests} calls (${u.cached} cached, ${u.errors} failed), ` +
          `${u.prompt_tokens} + ${u.completion_tokens} tokens, ${u.cost_usd.toFixed(4)} USD\n`,
      );
    }
    for (const g of errorGroups)
      printText(
        `  ${g.count} x ${terminalSafeLine(g.kind)}, e.g.: ${terminalSafeLine(g.example.slice(0, 200))}\n`,
      );
    if (outcome.halted) printText(`stopped: ${terminalSafeLine(outcome.halted.message)}\n`);
    for (const b of pendingBatches)
      printText(
        `  batch ${terminalSafeLine(b.id)} (${terminalSafeLine(b.target)}, ${b.requests} requests): ` +
          `${terminalSafeLine(b.status ?? '?')}, pending since ${b.since}\n`,
      );
    if (status === 'pending')
      printText(`collect with: refusenik run ${configFile ?? `--resume ${runId}`} --db ${flags.db}\n`);
    else if (status !== 'complete')
      printText(`resume with: refusenik run --resume ${runId} --db ${flags.db}\n`);
    else printText(`report: refusenik report ${runId} --db ${flags.db} --format md\n`);
  }
  if (status !== 'complete' && flags.json && outcome.halted)
    process.stderr.write(`refusenik: stopped: ${terminalSafeLine(outcome.halted.message)}\n`);
  if (status === 'interrupted') return 130;
  if (status === 'pending') return 0;
  if (status === 'failed') return 1;
  if (status === 'incomplete') return flags.allowErrors && !outcome.halted ? 0 : 1;
  return 0;
}

/** Wall time and CPU of the run itself (not start-up), and the process's peak memory. */
function runTiming(started: number, cpuStart: NodeJS.CpuUsage): Record<string, number> {
  const cpu = process.cpuUsage(cpuStart);
  return {
    elapsed_s: Number(((performance.now() - started) / 1000).toFixed(3)),
    cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

function printPlan(runId: string, plan: RunPlan, flags: RunFlags): number {
  const info = {
    run_id: runId,
    cases_total: plan.casesTotal,
    ...(plan.shard ? { shard: shardLabel(plan.shard), plan_cases: plan.planCases } : {}),
    behaviors: plan.behaviors.length,
    attacks: plan.attacks.map((a) => `${a.name}/${a.variant}`),
    targets: plan.targets.map((t) => t.id),
    judges: plan.judges.map((j) => j.id),
    samples: plan.samples,
  };
  if (flags.json) process.stdout.write(`${terminalSafeJson(JSON.stringify(info))}\n`);
  else {
    printText(
      `run ${info.run_id}: ${info.cases_total} cases = ${info.behaviors} behaviors x ${info.attacks.length} attack variants x ` +
        `${info.targets.length} targets x ${info.samples} samples\n` +
        `  attacks: ${info.attacks.join(', ')}\n  targets: ${info.targets.join(', ')}\n  judges:  ${info.judges.join(', ')}\n`,
    );
  }
  return 0;
}
