import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InputError } from '../errors.js';
import { DEFAULT_DB, RunStore } from '../store/store.js';
import type { Judge } from '../judge/judge.js';
import { importResponses } from '../runner/import.js';
import { judgeAgreement } from '../analysis/agreement.js';
import { sha256 } from '../util/hash.js';
import { printJson } from './common.js';
import {
  CliModels,
  addInputOptions,
  addJudgeModelOptions,
  buildJudge,
  readInput,
  type InputFlags,
  type JudgeModelFlags,
} from './judge.js';
import { printText } from '../util/terminal.js';

interface ImportFlags extends InputFlags, JudgeModelFlags {
  name?: string;
  db: string;
  target?: string;
  attack?: string;
  judge?: string[];
  replace?: boolean;
  json?: boolean;
  progress: boolean;
}

export function registerImportCommand(program: Command): void {
  const cmd = program
    .command('import')
    .description(
      'store a file of recorded responses as a run (status "imported"), judged by --judge (default keyword), ' +
        'so report, analyze and compare work on it like on any run. Same input formats as `judge`.',
    );
  addInputOptions(cmd);
  cmd
    .option('--name <name>', 'run name (default: the file name)')
    .option('--db <file>', 'run store (SQLite)', DEFAULT_DB)
    .option(
      '--target <label>',
      'target label for the cases (default: from the file name, e.g. lora_Llama-3-70B_vanill)',
    )
    .option(
      '--attack <name>',
      'attack label for the cases (default: from the path, e.g. codeattack; else imported)',
    )
    .option(
      '--judge <name>',
      'judge the responses with this judge (repeatable; default keyword)',
      appendJudge,
    )
    .option('--replace', 'replace an earlier import of the same file under the same labels');
  addJudgeModelOptions(cmd);
  cmd
    .option('--json', 'print {run_id, cases, judges: [...]} on stdout')
    .option('--no-progress', 'no progress bar')
    .addHelpText(
      'after',
      '\nExample:\n  refusenik import --input results/safety/codeattack/lora_Llama-3-70B_vanill_eval_codeattack_200.json\n' +
        '  refusenik report <run-id>',
    )
    .action(async (flags: ImportFlags) => {
      process.exitCode = await importCommand(flags);
    });
}

function appendJudge(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

async function importCommand(flags: ImportFlags): Promise<number> {
  const records = readInput(flags);
  const judges = flags.judge?.length ? flags.judge : ['keyword'];
  const twice = judges.find((j, i) => judges.indexOf(j) !== i);
  if (twice) throw new InputError(`--judge ${twice} is given twice`, { field: '--judge' });
  const models = new CliModels(flags);
  const store = RunStore.open(flags.db);
  try {
    const built: Judge[] = [];
    for (const name of judges) built.push(await buildJudge(name, flags, models, judges.length > 1));
    const imported = await importResponses(store, {
      file: flags.input,
      fileSha256: sha256(readFileSync(flags.input)),
      records,
      ...(flags.target !== undefined ? { target: flags.target } : {}),
      ...(flags.attack !== undefined ? { attack: flags.attack } : {}),
      ...(flags.name !== undefined ? { name: flags.name } : {}),
      judges: built,
      replace: flags.replace === true,
      concurrency: flags.concurrency,
      progress: flags.progress,
      // Judge-model calls are cached and logged (role judge) in this run, like a run's own judges.
      onRun: (runId) => models.calls.bind(store, runId),
    });
    // With two or more judges, how far they agree (Cohen's kappa on the harmful decision).
    const result =
      built.length > 1 ? { ...imported, agreement: judgeAgreement(store, imported.run_id).pairs } : imported;
    if (flags.json) printJson(result);
    else {
      printText(
        `imported ${result.cases} responses as run ${result.run_id} (target ${result.target}, attack ${result.attack}); ` +
          `${result.resumed ? `resumed: ${result.verdicts_kept} stored verdicts kept; ` : ''}` +
          `see: refusenik report ${result.run_id} --db ${flags.db}\n`,
      );
    }
    return 0;
  } finally {
    store.close();
    await models.close();
  }
}
