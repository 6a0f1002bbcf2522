import type { Command } from 'commander';
import Table from 'cli-table3';
import { InputError } from '../errors.js';
import { DEFAULT_DB, RunStore } from '../store/store.js';
import { RunBusyError, observedStatus } from '../store/lease.js';
import { redactConfig } from '../util/secrets.js';
import { printText, safeCells, terminalSafeJson, terminalSafeLine } from '../util/terminal.js';
import { printJson } from './common.js';
import { shardOf } from '../store/shard.js';

interface RunsFlags {
  db: string;
  json?: boolean;
}

export function registerRunsCommand(program: Command): void {
  const runs = program.command('runs').description('list, inspect and delete stored runs');
  runs
    .command('list')
    .description('list runs, newest first')
    .option('--db <file>', 'run store (SQLite)', DEFAULT_DB)
    .option('--json', 'JSON output')
    .action((flags: RunsFlags) => {
      const store = RunStore.openReadOnly(flags.db);
      try {
        const rows = store.listRuns().map((r) => {
          const c = store.counts(r.id);
          return {
            id: r.id,
            name: r.name,
            // A `running` run with no live writer was killed: it reads `interrupted` (see store/lease.ts).
            status: observedStatus(store.leases, r),
            created_at: r.created_at,
            cases_total: r.cases_total,
            cases_done: c.ok,
            errors: c.errors,
            verdicts: c.verdicts,
          };
        });
        if (flags.json) return printJson(rows);
        if (rows.length === 0) return void printText(`no runs in ${flags.db}\n`);
        const t = new Table({
          head: ['id', 'name', 'status', 'created', 'done', 'errors', 'verdicts'],
          style: { head: [], border: [] },
        });
        // Run names come from configs and users: shown, never interpreted by the terminal.
        for (const r of rows)
          t.push(
            safeCells([
              [
                r.id,
                r.name ?? '',
                r.status,
                r.created_at.slice(0, 19),
                `${r.cases_done}/${r.cases_total}`,
                String(r.errors),
                String(r.verdicts),
              ],
            ])[0] as string[],
          );
        printText(`${t.toString()}\n`);
      } finally {
        store.close();
      }
    });
  runs
    .command('show')
    .description('show a run: config snapshot, versions, counts, requests and token usage')
    .argument('<run-id>', 'run id or unique prefix')
    .option('--db <file>', 'run store (SQLite)', DEFAULT_DB)
    .option('--json', 'JSON output')
    .action((runArg: string, flags: RunsFlags) => {
      const store = RunStore.openReadOnly(flags.db);
      try {
        const run = store.findRun(runArg);
        if (!run) throw new InputError(`no run '${runArg}' in ${flags.db} (see: refusenik runs list)`);
        const holder = store.leases.liveHolder(run.id);
        const shard = shardOf(run);
        const info = {
          id: run.id,
          name: run.name,
          status: observedStatus(store.leases, run),
          ...(holder ? { writer: { pid: holder.pid, host: holder.host, since: holder.started_at } } : {}),
          created_at: run.created_at,
          updated_at: run.updated_at,
          config_file: run.config_file,
          cases_total: run.cases_total,
          counts: store.counts(run.id),
          judges: verdictCounts(store, run.id),
          versions: run.versions,
          requests: store.requestSummary(run.id),
          // A shard of a run split across machines (run --shard i/n): which, and how much of the plan it holds.
          ...(shard
            ? {
                shard: {
                  index: shard.index,
                  count: shard.count,
                  cases: shard.cases,
                  plan_cases: shard.plan_cases,
                  stored: store.counts(run.id).cases,
                },
              }
            : {}),
          // Which replica of a replica pool answered how many calls.
          replicas: store.replicaCounts(run.id),
          // Provider batches (batch delivery) still to collect, and since when.
          pending_batches: store.batches
            .forRun(run.id)
            .filter((b) => b.state === 'pending')
            .map((b) => ({
              id: b.id,
              provider: b.provider,
              target: b.target,
              requests: b.requests,
              status: b.provider_status,
              since: b.submitted_at,
              polled_at: b.updated_at,
            })),
          // Stores written before URL credentials were redacted at creation: never shown either.
          config: redactConfig(run.config),
        };
        if (flags.json) return printJson(info);
        const c = info.counts;
        const line = terminalSafeLine;
        printText(
          `run ${line(info.id)}${info.name ? ` (${line(info.name)})` : ''}: ${info.status}` +
            `${holder ? ` (pid ${holder.pid} on ${holder.host} since ${holder.started_at})` : ''}\n` +
            `  created ${info.created_at}, updated ${info.updated_at}\n` +
            `  cases: ${c.ok} done, ${c.errors} errors, of ${info.cases_total}; ${c.verdicts} verdicts\n` +
            (c.cases > info.cases_total
              ? `  warning: ${c.cases} cases stored for a plan of ${info.cases_total}: this run was resumed on an ` +
                'edited dataset (before refusenik refused that) and mixes two datasets; start a new run\n'
              : '') +
            info.judges
              .map(
                (j) =>
                  `  judge ${line(j.judge)}: ${j.decided} decided, ${j.inconclusive} inconclusive, ${j.failed} failed\n`,
              )
              .join('') +
            info.pending_batches
              .map(
                (b) =>
                  `  batch ${line(b.id)} (${line(b.target)}, ${b.requests} requests): ${line(b.status ?? '?')}, ` +
                  `pending since ${b.since} (last polled ${b.polled_at})\n`,
              )
              .join('') +
            (info.shard
              ? `  shard ${info.shard.index}/${info.shard.count}: holds ${info.shard.stored} of its ${info.shard.cases} ` +
                `cases, ${info.shard.cases} of the plan's ${info.shard.plan_cases} (combine the shards' stores ` +
                'with: refusenik runs merge <stores...> --db <out>)\n'
              : '') +
            info.replicas
              .map((r) => `  replica ${line(r.replica)} (${line(r.target)}): ${r.requests} answered\n`)
              .join('') +
            `  versions: ${JSON.stringify(info.versions)}\n`,
        );
        const t = new Table({
          head: ['role', 'model', 'requests', 'cached', 'errors', 'prompt tok', 'completion tok'],
          style: { head: [], border: [] },
        });
        for (const r of info.requests)
          t.push(
            [r.role, r.target, r.requests, r.cached, r.errors, r.prompt_tokens, r.completion_tokens].map(
              (v) => line(String(v)),
            ),
          );
        printText(`${t.toString()}\n`);
        printText(
          `  config:\n${terminalSafeJson(JSON.stringify(info.config, null, 2)).replace(/^/gm, '    ')}\n`,
        );
      } finally {
        store.close();
      }
    });
  runs
    .command('merge')
    .description(
      "combine the stores of one run's shards (run --shard i/n on several machines) into one run; reports " +
        'and compare then read it like any other run',
    )
    .argument('<stores...>', 'the shard stores (SQLite files), each holding the same run')
    .requiredOption('--db <file>', 'the store to write the merged run to (never one of the inputs)')
    .option('--run <run-id>', 'the run to merge, when a store holds several')
    .option('--replace', 'replace the run if --db already holds it')
    .option('--json', 'JSON output')
    .action(async (stores: string[], flags: RunsFlags & { run?: string; replace?: boolean }) => {
      const { mergeStores } = await import('../store/merge.js');
      const r = mergeStores({ inputs: stores, out: flags.db, run: flags.run, replace: flags.replace });
      if (flags.json) return printJson(r);
      const line = terminalSafeLine;
      printText(
        `merged ${r.inputs.length} stores into run ${r.run_id} in ${line(r.db)}: ${r.status}; ${r.cases} of ` +
          `the plan's ${r.plan_cases} cases (${r.ok} answered, ${r.errors} errors), ${r.verdicts} verdicts` +
          `${r.duplicates ? `; ${r.duplicates} cases held by two stores kept once` : ''}\n` +
          r.inputs
            .map(
              (i) =>
                `  ${line(i.store)}: ${i.shard ? `shard ${i.shard}, ` : ''}${i.status}, ${i.cases} cases, ${i.kept} kept\n`,
            )
            .join('') +
          (r.missing_shards.length ? `  missing shards: ${r.missing_shards.join(', ')}\n` : ''),
      );
    });
  runs
    .command('delete')
    .description('delete a run and everything stored for it (the response cache is kept)')
    .argument('<run-id>', 'run id (exact)')
    .option('--db <file>', 'run store (SQLite)', DEFAULT_DB)
    .action((runArg: string, flags: RunsFlags) => {
      const store = RunStore.openExisting(flags.db);
      try {
        if (!store.getRun(runArg)) throw new InputError(`no run '${runArg}' in ${flags.db}`);
        const holder = store.leases.liveHolder(runArg);
        if (holder) throw new RunBusyError(runArg, holder);
        store.deleteRun(runArg);
        printText(`deleted ${runArg}\n`);
      } finally {
        store.close();
      }
    });
}

/** Per judge: verdicts that decided, that were inconclusive (no readable verdict), and that failed. */
function verdictCounts(
  store: RunStore,
  runId: string,
): { judge: string; decided: number; inconclusive: number; failed: number }[] {
  const by = new Map<string, { judge: string; decided: number; inconclusive: number; failed: number }>();
  for (const v of store.iterateVerdicts(runId)) {
    const row = by.get(v.judge) ?? { judge: v.judge, decided: 0, inconclusive: 0, failed: 0 };
    if (v.error !== null) row.failed++;
    else if (v.inconclusive === 1) row.inconclusive++;
    else row.decided++;
    by.set(v.judge, row);
  }
  return [...by.values()];
}
