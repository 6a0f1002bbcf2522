import { Command, Option } from 'commander';
import { InputError } from '../errors.js';
import { dataDir } from '../data/dir.js';
import { DEFAULT_DB, RunStore, type RunRecord } from '../store/store.js';
import { loadSuite } from '../suite/config.js';
import { runSuite } from '../suite/run.js';
import { suiteTable, tableCsv, tableMarkdown } from '../suite/table.js';
import { printJson } from './common.js';
import { printDocument, printText } from '../util/terminal.js';

interface SuiteRunFlags {
  db: string;
  only?: string;
  dryRun?: boolean;
  cache: boolean;
  json?: boolean;
  progress: boolean;
  set?: string[];
}

interface SuiteTableFlags {
  db: string;
  suite?: string;
  judge?: string;
  format: 'md' | 'csv' | 'json';
  paper: string;
}

export function registerSuiteCommand(program: Command): void {
  const suite = program
    .command('suite')
    .description(
      "run a suite of evaluations (several datasets, shared targets) and lay the results out like DeRTa's Table 2",
    );

  suite
    .command('run')
    .description(
      'run every run of a suite file, one after another, in one store; re-running resumes (finished cases are kept)',
    )
    .argument('<suite>', 'suite file (.yaml/.json), e.g. examples/derta-eval.yaml')
    .option('--db <file>', 'run store (SQLite)', DEFAULT_DB)
    .option('--only <names>', 'comma-separated run names to run (default: all)')
    .option('--dry-run', 'validate the suite and print each run id and case count without calling any model')
    .option('--no-cache', 'do not answer requests from the response cache')
    .option('--json', 'print a JSON summary on stdout')
    .option('--no-progress', 'no progress bars')
    .option(
      '--set <path=value>',
      'override a suite value (repeatable), e.g. --set targets[0].id=openai:gpt-4o-mini --set runs[0].dataset.limit=5',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .addHelpText(
      'after',
      '\nThen: refusenik suite table --suite <suite name> --db <file>\nExit codes: 0 done, 1 runtime failure, 2 bad suite or data, 130 interrupted.',
    )
    .action(async (file: string, flags: SuiteRunFlags) => {
      const loaded = loadSuite(file, flags.set ?? []);
      const only = flags.only
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const store = RunStore.open(flags.db);
      const controller = new AbortController();
      const onSigint = (): void => {
        process.stderr.write('\ninterrupting: finishing writes...\n');
        controller.abort();
      };
      process.on('SIGINT', onSigint);
      try {
        const results = await runSuite(loaded, {
          store,
          dataDir: dataDir(),
          only,
          dryRun: flags.dryRun,
          useCache: flags.cache,
          progress: flags.progress,
          signal: controller.signal,
          onRunStart: (name, runId, cases) => {
            if (!flags.json) process.stderr.write(`${name}: run ${runId}, ${cases} cases\n`);
          },
        });
        if (flags.json) printJson({ suite: loaded.suite.name, db: flags.db, runs: results });
        else {
          for (const r of results) {
            printText(
              `${r.name.padEnd(16)} ${r.run_id}  ${r.status.padEnd(11)} ${r.cases_done}/${r.cases_total} cases, ${r.errors} errors\n`,
            );
          }
          if (!flags.dryRun) {
            printText(`table: refusenik suite table --suite ${loaded.suite.name} --db ${flags.db}\n`);
          }
        }
        process.exitCode =
          results.some((r) => r.status === 'interrupted') || controller.signal.aborted ? 130 : 0;
      } finally {
        process.off('SIGINT', onSigint);
        store.close();
      }
    });

  suite
    .command('table')
    .description(
      'DeRTa Table 2 layout: per target, ASR % of the six attacks (codeattack, pair, jailbreakchat, selfcipher,\n' +
        'completion, autodan), GSM8K / MMLU accuracy %, AlpacaEval win rate %, and XSTest over-refusal, with the\n' +
        "paper's published rows beside yours",
    )
    .argument('[run-ids...]', 'runs to tabulate (ids or unique prefixes); or use --suite')
    .option('--db <file>', 'run store (SQLite)', DEFAULT_DB)
    .option('--suite <name>', "all runs of this suite (stored as '<name>:<run>'; the latest of each)")
    .option(
      '--judge <id>',
      'safety judge whose verdicts give ASR (default: per column, the first judge of the run that decided)',
    )
    .addOption(new Option('--format <fmt>', 'output format').choices(['md', 'csv', 'json']).default('md'))
    .option(
      '--paper <which>',
      'paper rows: all, none, or those whose model contains this text (e.g. 70B)',
      'all',
    )
    .addHelpText(
      'after',
      '\nASR and helpfulness are percentages (0-100). Averages are over the columns that have a value.\n' +
        'The paper judged ASR by hand (Appendix C guideline); use the derta-guideline judge for the closest match.',
    )
    .action((ids: string[], flags: SuiteTableFlags) => {
      const store = RunStore.openReadOnly(flags.db);
      try {
        const runIds = [
          ...ids,
          ...(flags.suite ? suiteRuns(store.listRuns(), flags.suite).map((r) => r.id) : []),
        ];
        if (runIds.length === 0) {
          throw new InputError(
            flags.suite
              ? `no runs of suite '${flags.suite}' in ${flags.db}`
              : 'give run ids or --suite <name>',
          );
        }
        const rows = suiteTable(store, runIds, { judge: flags.judge, paper: flags.paper });
        if (flags.format === 'json') printJson({ runs: runIds, rows });
        else printDocument(flags.format === 'csv' ? tableCsv(rows) : tableMarkdown(rows));
      } finally {
        store.close();
      }
    });
}

/** The latest run of each `<suite>:<run>` name. */
function suiteRuns(runs: RunRecord[], suite: string): RunRecord[] {
  const latest = new Map<string, RunRecord>();
  for (const r of runs) {
    if (!r.name?.startsWith(`${suite}:`)) continue;
    const prev = latest.get(r.name);
    if (!prev || prev.updated_at < r.updated_at) latest.set(r.name, r);
  }
  return [...latest.values()];
}
