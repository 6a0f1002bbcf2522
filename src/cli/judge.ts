import type { Command } from 'commander';
import { RuntimeFailure } from '../errors.js';
import { dataDir } from '../data/dir.js';
import { readResponses, type ResponseRecord } from '../dataset/responses.js';
import type { Judge, JudgeEnv } from '../judge/judge.js';
import { JUDGES } from '../judge/registry.js';
import { runAnswers } from '../store/run-answers.js';
import { createFrom, optionKeys } from '../config/plugin-registry.js';
import { judgeRecords, summarizeVerdicts } from '../judge/offline.js';
import type { Verdict } from '../types.js';
import { ModelResolver, type ModelFlags } from '../runner/resolve.js';
import { VerdictJournal } from '../judge/verdict-journal.js';
import { outputTarget } from '../util/atomic-write.js';
import { collectOption, intOption, printJson, writeJsonl } from './common.js';

/** Flags shared by `judge` and `import`: which records to read and how to reach a judge model. */
export interface InputFlags {
  input: string;
  format?: 'csv' | 'json' | 'jsonl' | 'txt';
  promptField?: string;
  responseField?: string;
  prompts?: string;
}

export interface JudgeModelFlags extends ModelFlags {
  model?: string;
  option: Record<string, unknown>;
  concurrency: number;
}

interface JudgeFlags extends InputFlags, JudgeModelFlags {
  judge: string;
  out: string;
  json?: boolean;
  progress: boolean;
}

export function addInputOptions(cmd: Command): Command {
  return cmd
    .requiredOption(
      '--input <file>',
      'responses: JSONL/JSON/CSV records {prompt|question|instruction, response}, or DeRTa results',
    )
    .option('--format <format>', 'input format when the extension does not say: csv, json, jsonl, txt')
    .option(
      '--prompt-field <name>',
      'field holding the prompt (default: prompt, question, instruction, input, query, goal)',
    )
    .option(
      '--response-field <name>',
      'field holding the response (default: response, completion, output, generation)',
    )
    .option(
      '--prompts <file>',
      'completion-attack strings: the prompts they start with (default: the derta pack test prompts)',
    );
}

export function addJudgeModelOptions(cmd: Command): Command {
  return cmd
    .option(
      '--model <model>',
      'judge model: a target id (openai:gpt-4o, anthropic:...) or a name from --models',
    )
    .option(
      '--models <file>',
      'YAML/JSON map of model names to target specs (or a run config with a models: section)',
    )
    .option('--base-url <url>', 'base URL for a --model given as a target id (e.g. a local vLLM server)')
    .option('--api-key-env <var>', 'environment variable holding the API key for --model')
    .option(
      '--option <key=value>',
      'a judge option (repeatable), e.g. --option threshold=4',
      collectOption,
      {},
    )
    .option('--concurrency <n>', 'judge requests in flight at once', intOption('--concurrency', 1), 8);
}

export function registerJudgeCommand(program: Command): Command {
  const cmd = program
    .command('judge')
    .description(
      'score a file of recorded responses offline (no target is called): one verdict per input record, ' +
        'in input order, as JSON Lines',
    );
  addInputOptions(cmd);
  cmd.requiredOption('--judge <name>', 'the judge (see `refusenik judge --help` for the list)');
  addJudgeModelOptions(cmd);
  cmd
    .option('--out <file>', 'verdicts file (JSON Lines; - for stdout)', '-')
    .option('--json', 'print a JSON summary (counts, ASR, mean score) on stdout')
    .option('--no-progress', 'no progress bar')
    .addHelpText(
      'after',
      '\nEach output line: {index, line, id?, judge, refusal, harmful, score, reason, error?, details?, raw?}.\n' +
        'Judges: ' +
        JUDGES.helpList() +
        '\n\nExamples:\n' +
        '  refusenik judge --input results.jsonl --judge keyword --out verdicts.jsonl\n' +
        '  refusenik judge --input results.jsonl --judge qi2023 --model openai:gpt-4o --out qi.jsonl --json',
    )
    .action(async (flags: JudgeFlags) => {
      process.exitCode = await judgeCommand(flags);
    });
  return cmd;
}

async function judgeCommand(flags: JudgeFlags): Promise<number> {
  const records = readInput(flags);
  // Where the verdicts go is checked before any judge call is paid for (never over the input, a folder...).
  const out =
    flags.out === '-' ? undefined : outputTarget(flags.out, { protect: { 'the --input file': flags.input } });
  const models = new CliModels(flags);
  try {
    const judge = await buildJudge(flags.judge, flags, models);
    // Verdicts go to a journal beside --out as they arrive, so a killed run resumes (judge/verdict-journal.ts);
    // only beside a regular file: never in /dev for /dev/stdout, nor beside a FIFO that a reader is waiting on.
    const journal = out?.mode === 'replace' ? new VerdictJournal(flags.out, judge) : undefined;
    const verdicts: (Verdict | undefined)[] = records.map((r) => journal?.get(r));
    const todo = records.filter((_, i) => verdicts[i] === undefined);
    if (journal?.size)
      process.stderr.write(`resuming: ${records.length - todo.length} verdicts kept from ${journal.file}\n`);
    const fresh = await judgeRecords(judge, todo, flags.input, {
      concurrency: flags.concurrency,
      progress: flags.progress,
      onVerdict: (k, v) => journal?.add(todo[k] as ResponseRecord, v),
    });
    let k = 0;
    for (let i = 0; i < verdicts.length; i++) if (verdicts[i] === undefined) verdicts[i] = fresh[k++];
    const all = verdicts as Verdict[];
    await writeJsonl(
      flags.out,
      all.map((v, i) => verdictRow(records[i] as ResponseRecord, v)),
      { protect: { 'the --input file': flags.input } },
    );
    journal?.remove();
    const summary = summarizeVerdicts(judge.id, all);
    if (flags.json)
      printJson({ input: flags.input, out: flags.out, ...summary, usage: models.calls.usageByRole() });
    else if (flags.out !== '-') {
      process.stderr.write(
        `${summary.n} verdicts (${judge.id}): ${summary.harmful} harmful, ${summary.refusals} refusals, ` +
          `${summary.errors} judge errors -> ${flags.out}\n`,
      );
    }
    if (summary.errors === summary.n) {
      throw new RuntimeFailure(`every verdict failed; first error: ${all[0]?.error ?? '?'}`);
    }
    return 0;
  } finally {
    await models.close();
  }
}

export function readInput(flags: InputFlags): ResponseRecord[] {
  return readResponses(flags.input, {
    format: flags.format,
    promptField: flags.promptField,
    responseField: flags.responseField,
    prompts: flags.prompts,
    dataDir: dataDir(),
  });
}

/**
 * A judge from its name plus --model/--option flags. With several judges (import), --model goes to those
 * that take a model; a model-free judge (keyword) that rejects the `model` key is built without it.
 */
export async function buildJudge(
  name: string,
  flags: JudgeModelFlags,
  models: CliModels,
  several = false,
): Promise<Judge> {
  const factory = await JUDGES.load(name, '--judge');
  // With several judges, --model goes to those whose options have a `model`; with one, it always goes
  // (so --model on a model-free judge is the usual unknown-key error).
  const model = flags.model !== undefined && (!several || optionKeys(factory.options).includes('model'));
  const options = { ...flags.option, ...(model ? { model: flags.model } : {}) };
  return createFrom(factory, options, models.env(), `--judge ${name}`);
}

function verdictRow(rec: ResponseRecord, v: Verdict): Record<string, unknown> {
  return {
    index: rec.index,
    line: rec.line,
    ...(rec.id !== undefined ? { id: rec.id } : {}),
    judge: v.judge,
    refusal: v.refusal,
    harmful: v.harmful,
    score: v.score ?? null,
    reason: v.reason ?? null,
    ...(v.error ? { error: v.error } : {}),
    ...(v.inconclusive ? { inconclusive: true } : {}),
    ...(v.details ? { details: v.details } : {}),
    ...(v.raw !== undefined ? { raw: v.raw } : {}),
  };
}

/** Judge models for the CLI (`--model`, `--models`, `--base-url`), resolved by the shared resolver. */
export class CliModels extends ModelResolver {
  constructor(flags: JudgeModelFlags) {
    super(flags);
  }

  env(): JudgeEnv {
    return {
      dataDir: dataDir(),
      model: (spec, where) => this.resolve(spec, where, 'judge', '--model'),
      runAnswers,
    };
  }
}
