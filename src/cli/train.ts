import path from 'node:path';
import type { Command } from 'commander';
import {
  checkPythonEnv,
  loadTrainConfig,
  missingPackagesError,
  prepareData,
  requiredPackages,
  resolvePython,
  shellQuote,
  stepBar,
  trainerCommand,
  trainModel,
} from '../derta/trainer.js';
import { InputError } from '../errors.js';
import { printJson } from './common.js';

/**
 * `refusenik train --config train.yaml`: the front door to the Python trainer (src/derta/trainer.ts does the
 * work): `--check-env`, `--dry-run` (build the data, print the command), or a run with a progress bar or
 * the trainer's JSON events on stdout.
 */

interface TrainFlags {
  config: string;
  json?: boolean;
  checkEnv?: boolean;
  dryRun?: boolean;
  python?: string;
  maxSteps?: number;
}

export function registerTrainCommand(program: Command): void {
  program
    .command('train')
    .description(
      'DeRTa fine-tuning: build the data, check the Python environment, run the trainer (full or LoRA) and follow it',
    )
    .requiredOption(
      '-c, --config <file>',
      'train.yaml (see docs/training.md and trainer/examples/train.yaml)',
    )
    .option('--json', "print the trainer's JSON-lines events on stdout instead of a progress bar and summary")
    .option('--check-env', 'only check the Python environment and report it')
    .option('--dry-run', 'build the data and print the trainer command without running it')
    .option('--python <path>', 'Python interpreter (overrides the config and $REFUSENIK_PYTHON)')
    .option('--max-steps <n>', 'stop after n optimizer steps (overrides the config)', positiveInt)
    .addHelpText(
      'after',
      '\nOn a remote GPU box, copy the built data folder and run the Python package there:\n' +
        '  python -m refusenik_trainer train --model <dir> --data <dir> --output-dir <dir> --preset lora\n' +
        'See docs/training.md (multi-GPU, DeepSpeed/FSDP, serving with vLLM or `python -m refusenik_trainer serve`).\n',
    )
    .action(async (flags: TrainFlags) => {
      process.exitCode = await runTrain(flags);
    });
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new InputError(`--max-steps expects a positive integer, got '${v}'`);
  return n;
}

/** The whole `train` command; resolves with the exit code. */
export async function runTrain(flags: TrainFlags): Promise<number> {
  const { config, baseDir } = loadTrainConfig(flags.config);
  if (flags.python) config.python = path.resolve(flags.python);
  if (flags.maxSteps !== undefined) config.max_steps = flags.maxSteps;
  const python = resolvePython(config, baseDir);
  const packages = requiredPackages(config);
  const env = checkPythonEnv(python, packages);
  if (flags.checkEnv) {
    if (flags.json) printJson(env);
    else
      process.stdout.write(
        `${env.python} (Python ${env.version ?? '?'}):\n` +
          Object.keys(packages)
            .map((m) => `  ${m}: ${env.packages[m] ?? 'MISSING'}`)
            .join('\n') +
          '\n',
      );
    if (env.missing.length) throw missingPackagesError(env, packages);
    return 0;
  }
  if (env.missing.length) throw missingPackagesError(env, packages);
  if (flags.dryRun) {
    const data = prepareData(config, baseDir, !flags.json);
    const argv = trainerCommand(config, baseDir, python, data);
    if (flags.json) printJson({ data, argv });
    else process.stdout.write(`${argv.map(shellQuote).join(' ')}\n`);
    return 0;
  }
  const bar = stepBar(!flags.json);
  const { done: d, last } = await trainModel(config, baseDir, {
    env,
    showSummary: !flags.json,
    onEvent: (e) => {
      if (flags.json) process.stdout.write(`${JSON.stringify(e)}\n`);
      bar(e);
    },
  });
  if (!flags.json) {
    const loss = typeof last?.['loss'] === 'number' ? ` (last loss ${last['loss'].toFixed(4)})` : '';
    process.stdout.write(
      `trained ${String(d['step'])} steps${loss}, ${String(d['tokens'])} tokens in ${String(d['runtime_s'])} s → ` +
        `${String(d['output_dir'])}${d['adapter'] ? ' (LoRA adapter)' : ''}\n`,
    );
  }
  return 0;
}
