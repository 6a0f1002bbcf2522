import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { InputError } from '../errors.js';
import { modelKeyOf } from '../config/schema.js';
import { dataDir } from '../data/dir.js';
import { LABEL_TASKS, loadLabels, type LabelItem, type LabelSet, type LabelTask } from '../dataset/labels.js';
import { subsetMetrics, validationMetrics } from '../analysis/validation.js';
import { judgeAll } from '../judge/offline.js';
import type { JudgeInput } from '../judge/judge.js';
import { judgeConfig, judgeConfigHash, type JudgeConfig } from '../judge/config-key.js';
import { progressBar } from '../util/case-progress.js';
import { DEFAULT_DB, RunStore } from '../store/store.js';
import { buildJudge, CliModels, type JudgeModelFlags } from './judge.js';
import { printJson } from './common.js';
import { printText } from '../util/terminal.js';

/**
 * `refusenik judge validate`: a judge measured against human labels (a labels file or a labelled pack),
 * judged through the same offline path as `refusenik judge`, stored in the run store keyed by the judge's
 * full configuration so reports can show the figures beside every ASR the judge produced.
 *
 * It is a sub-command of `judge`, whose own options (--judge, --json, the model flags) commander parses at
 * the `judge` level; they are read here with optsWithGlobals, and `judge`'s required --input is not
 * required when the sub-command runs.
 */

interface ValidateFlags extends JudgeModelFlags {
  judge?: string;
  labels: string;
  task?: LabelTask;
  split: string[];
  db: string;
  store: boolean;
  json?: boolean;
  progress: boolean;
}

export function registerJudgeValidateCommand(judgeCmd: Command): void {
  judgeCmd.hook('preSubcommand', (parent) => {
    for (const o of parent.options) o.mandatory = false;
  });
  judgeCmd
    .command('validate')
    .description(
      'measure a judge against human labels: accuracy, precision, recall, F1, kappa with 95% intervals, ' +
        'per subset, inconclusive verdicts counted apart; stored in the run store for reports',
    )
    .option('--judge <spec>', 'the judge: a name, or inline YAML/JSON {name: {options}} (required)')
    .requiredOption(
      '--labels <file>',
      'labels: JSONL/CSV/JSON {prompt, response, label} or pack:<pack>/<file> (HarmBench val set, XSTest)',
    )
    .option('--task <task>', `for boolean or 0/1 labels: ${LABEL_TASKS.join(' | ')}`)
    .option(
      '--split <key=value>',
      'only items of this subset (repeatable, all must match), e.g. functional=standard',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--db <file>', 'run store that keeps the result', DEFAULT_DB)
    .option('--no-store', 'do not store the result')
    .option('--json', 'print the result object on stdout')
    .addHelpText(
      'after',
      '\nLabels: harmful|safe (attack success, positive = harmful) or refusal|partial|compliance (refusal ' +
        'detection, positive = refusal, partial counts as refusal).\n' +
        'Built in: pack:harmbench/data/classifier_val_sets/text_behaviors_val_set.json (596 items, gold = ' +
        'majority of 3 annotators), pack:xstest/model_completions/xstest_v2_completions_<model>.csv.\n' +
        'The judge model flags (--model, --base-url, --option, --concurrency, ...) are those of `judge`.\n\n' +
        'Examples:\n' +
        '  refusenik judge validate --judge keyword --labels pack:harmbench/data/classifier_val_sets/text_behaviors_val_set.json\n' +
        "  refusenik judge validate --judge '{qi2023: {threshold: 4}}' --model openai:gpt-4o --labels mine.jsonl --json",
    )
    .action(async (_flags: unknown, cmd: Command) => {
      process.exitCode = await validateCommand(cmd.optsWithGlobals<ValidateFlags>());
    });
}

/** `keyword` or `{qi2023: {threshold: 4}}` (YAML or JSON). */
export function parseJudgeSpec(spec: string): { name: string; options: Record<string, unknown> } {
  const text = spec.trim();
  if (!text.startsWith('{')) return { name: text, options: {} };
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    throw new InputError(`not YAML/JSON: ${(err as Error).message}`, { field: '--judge' });
  }
  const entries = value && typeof value === 'object' ? Object.entries(value as Record<string, unknown>) : [];
  const [name, options] = entries[0] ?? [];
  if (entries.length !== 1 || name === undefined || (options !== null && typeof options !== 'object')) {
    throw new InputError('expected a judge name or one {name: {options}} entry', { field: '--judge' });
  }
  return { name, options: (options ?? {}) as Record<string, unknown> };
}

async function validateCommand(flags: ValidateFlags): Promise<number> {
  if (flags.judge === undefined) throw new InputError("required option '--judge <spec>' not specified");
  if (flags.task !== undefined && !LABEL_TASKS.includes(flags.task)) {
    throw new InputError(`unknown task '${flags.task}'; use ${LABEL_TASKS.join(' or ')}`, {
      field: '--task',
    });
  }
  const labels = loadLabels(flags.labels, { task: flags.task, dataDir: dataDir() });
  const items = splitItems(labels.items, flags.split);
  if (items.length === 0) throw new InputError('no labelled items (check --split)', { file: flags.labels });
  const spec = parseJudgeSpec(flags.judge);
  const models = new CliModels(flags);
  try {
    const judge = await buildJudge(
      spec.name,
      { ...flags, option: { ...spec.options, ...flags.option } },
      models,
    );
    // The options as given (not the judge's filled-in defaults), as a run config would record them.
    const config = judgeConfig(
      judge.name,
      { ...spec.options, ...flags.option },
      flags.model ? modelKey(flags) : undefined,
    );
    const bar = progressBar(flags.progress, items.length);
    let done = 0;
    let errors = 0;
    const verdicts = await judgeAll(
      judge,
      items.map((it, i) => labelJudgeInput(it, i, labels.source)),
      {
        concurrency: flags.concurrency,
        onVerdict: (_i, v) => {
          done++;
          if (v.error) errors++;
          bar.update({ done, total: items.length, errors, skipped: 0 });
        },
      },
    );
    bar.stop();
    const result = validationResult(labels, items, verdicts, flags.split, judge.id, config);
    if (flags.store) {
      const store = RunStore.open(flags.db);
      try {
        store.putValidation({
          config_hash: result.judge.config_hash,
          labels_sha256: labels.sha256,
          judge_id: judge.id,
          config,
          labels_source: labelsSourceKey(labels.source, flags.split),
          task: labels.task,
          result,
        });
      } finally {
        store.close();
      }
    }
    if (flags.json) printJson(result);
    else printText(renderText(result));
    return 0;
  } finally {
    await models.close();
  }
}

export type ValidationResult = ReturnType<typeof validationResult>;

function validationResult(
  labels: LabelSet,
  items: LabelItem[],
  verdicts: Parameters<typeof validationMetrics>[1],
  split: string[],
  judgeId: string,
  config: JudgeConfig,
) {
  return {
    ...validationMetrics(items, verdicts, labels.task),
    task: labels.task,
    positive_class: labels.task === 'attack-success' ? 'harmful' : 'refusal',
    labels: { source: labelsSourceKey(labels.source, split), sha256: labels.sha256, items: items.length },
    judge: { id: judgeId, ...config, config_hash: judgeConfigHash(config) },
    subsets: subsetMetrics(items, verdicts, labels.task),
  };
}

/** The judge model as a run config resolves it: a --models name stands for its target's id and base URL. */
function modelKey(flags: ValidateFlags): { id: string; base_url?: string } {
  const name = flags.model as string;
  if (flags.models) {
    try {
      const file = parseYaml(readFileSync(flags.models, 'utf8')) as Record<string, unknown> | null;
      const section = (file && 'models' in file ? file['models'] : file) as Record<string, unknown> | null;
      const key = modelKeyOf(section?.[name]);
      if (key) return key;
    } catch {
      // CliModels has already reported an unreadable models file
    }
  }
  return { id: name, ...(flags.baseUrl ? { base_url: flags.baseUrl } : {}) };
}

function labelsSourceKey(source: string, split: string[]): string {
  return split.length ? `${source} [${[...split].sort().join(', ')}]` : source;
}

function splitItems(items: LabelItem[], split: string[]): LabelItem[] {
  const wanted = split.map((s) => {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new InputError(`--split expects key=value, got '${s}'`, { field: '--split' });
    return [s.slice(0, eq), s.slice(eq + 1)] as const;
  });
  return items.filter((it) => wanted.every(([k, v]) => it.subsets[k] === v));
}

/** A labelled item as the judge sees a recorded response: goal, a one-turn chat prompt, the response. */
export function labelJudgeInput(it: LabelItem, index: number, source: string): JudgeInput {
  const meta: Record<string, string> = { ...it.subsets };
  if (it.context !== undefined) meta['context'] = it.context;
  if (it.prompt !== it.goal) meta['prompt'] = it.prompt;
  return {
    behavior: {
      id: it.case_id ?? `${source}#${index}`,
      text: it.goal,
      ...(it.subsets['category'] ? { category: it.subsets['category'] } : {}),
      source,
      index,
      meta,
    },
    goal: it.goal,
    prompt: { kind: 'chat', messages: [{ role: 'user', content: it.prompt || it.goal }] },
    response: it.response,
    answer: it.response,
  };
}

function renderText(r: ValidationResult): string {
  const pct = (x: number | null): string => (x === null ? '-' : `${(100 * x).toFixed(1)}%`);
  const ci = (i: { low: number; high: number } | null): string =>
    i ? ` [${pct(i.low)}, ${pct(i.high)}]` : '';
  const num = (x: number | null): string => (x === null ? '-' : x.toFixed(3));
  const lines = [
    `${r.judge.id} on ${r.labels.source} (${r.task}, positive = ${r.positive_class})`,
    `n ${r.n} (${r.positive} positive), inconclusive ${r.inconclusive}, errors ${r.errors}, coverage ${pct(r.coverage)}`,
    `accuracy  ${pct(r.accuracy)}${ci(r.intervals.accuracy)}`,
    `precision ${pct(r.precision)}${ci(r.intervals.precision)}`,
    `recall    ${pct(r.recall)}${ci(r.intervals.recall)}`,
    `f1        ${num(r.f1)}${r.intervals.f1 ? ` [${num(r.intervals.f1.low)}, ${num(r.intervals.f1.high)}]` : ''}`,
    `kappa     ${num(r.kappa)}${r.intervals.kappa ? ` [${num(r.intervals.kappa.low)}, ${num(r.intervals.kappa.high)}]` : ''}`,
    `confusion tp ${r.tp}  fp ${r.fp}  fn ${r.fn}  tn ${r.tn}`,
  ];
  if (r.subsets.length) {
    lines.push('', 'subset                                      n   accuracy  precision  recall  inconcl.');
    for (const s of r.subsets) {
      lines.push(
        `${`${s.key}=${s.value}`.padEnd(40)} ${String(s.n).padStart(5)}  ${pct(s.accuracy).padStart(8)}  ` +
          `${pct(s.precision).padStart(9)}  ${pct(s.recall).padStart(6)}  ${String(s.inconclusive).padStart(8)}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
