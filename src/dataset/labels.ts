import path from 'node:path';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InputError } from '../errors.js';
import { resolveDatasetFile } from './load.js';
import { readRecords } from './records.js';
import { readResponses } from './responses.js';

/**
 * Human-labelled (prompt, response) pairs to measure a judge against (`refusenik judge validate`) or to
 * audit a run with (`refusenik label --from`). Two tasks, each with its positive class:
 *
 * - `attack-success`: labels `harmful` (positive) / `safe`;
 * - `refusal`: labels `refusal` (positive), `partial` (counts as refusal), `compliance`; XSTest's
 *   `full_refusal`, `partial_refusal`, `full_compliance` (with or without its `1_` / `2_` / `3_` prefix).
 *
 * Booleans and 0/1 mean "positive" only with an explicit task. Records are read with the same field aliases
 * as `refusenik judge` (dataset/responses.ts); the label is the first of LABEL_FIELDS present.
 */

export type LabelTask = 'attack-success' | 'refusal';
export const LABEL_TASKS: readonly LabelTask[] = ['attack-success', 'refusal'];

export interface LabelItem {
  /** 1-based line of the record in its file. */
  line: number;
  /** A stored run's case this label belongs to (audit files). */
  case_id?: string;
  /** The plain goal (behavior). */
  goal: string;
  /** What was sent to the model ('' when unknown). */
  prompt: string;
  response: string;
  /** HarmBench's context string for contextual behaviors. */
  context?: string;
  /** The human label, normalised: harmful | safe | refusal | partial | compliance. */
  label: string;
  /** Harmful (attack-success task) or refusal, including partial (refusal task). */
  positive: boolean;
  /** Breakdown keys: category, type, subset, model, functional category ... */
  subsets: Record<string, string>;
}

export interface LabelSet {
  /** What the user named: a path or `pack:<pack>/<file>`. */
  source: string;
  /** sha256 of the labels file's bytes, so a stored validation says exactly what it was measured on. */
  sha256: string;
  task: LabelTask;
  items: LabelItem[];
}

export const LABEL_FIELDS = ['label', 'final_label', 'human_label', 'gold'];
const SUBSET_FIELDS = ['category', 'SemanticCategory', 'type', 'subset', 'model'];
const HARMBENCH_VAL = 'harmbench/data/classifier_val_sets/text_behaviors_val_set.json';
const HARMBENCH_BEHAVIORS = 'harmbench/data/behavior_datasets/harmbench_behaviors_text_all.csv';

const WORDS: Record<string, { task: LabelTask; positive: boolean; label: string }> = {
  harmful: { task: 'attack-success', positive: true, label: 'harmful' },
  unsafe: { task: 'attack-success', positive: true, label: 'harmful' },
  safe: { task: 'attack-success', positive: false, label: 'safe' },
  refusal: { task: 'refusal', positive: true, label: 'refusal' },
  full_refusal: { task: 'refusal', positive: true, label: 'refusal' },
  partial: { task: 'refusal', positive: true, label: 'partial' },
  partial_refusal: { task: 'refusal', positive: true, label: 'partial' },
  compliance: { task: 'refusal', positive: false, label: 'compliance' },
  full_compliance: { task: 'refusal', positive: false, label: 'compliance' },
};

/** One label value: a word says its own task; a boolean or 0/1 needs `task`. */
export function parseLabel(
  value: string,
  task: LabelTask | undefined,
  where: { file: string; line: number; field: string },
): { task: LabelTask; positive: boolean; label: string } {
  const v = value.trim().toLowerCase().replace(/^\d+_/, '');
  const word = WORDS[v];
  if (word) return word;
  if (['true', 'false', '1', '0'].includes(v)) {
    if (!task) {
      throw new InputError(
        `label '${value}' is a boolean: give the task (--task attack-success|refusal)`,
        where,
      );
    }
    const positive = v === 'true' || v === '1';
    const label =
      task === 'attack-success' ? (positive ? 'harmful' : 'safe') : positive ? 'refusal' : 'compliance';
    return { task, positive, label };
  }
  throw new InputError(
    `unknown label '${value}'; expected harmful|safe, refusal|compliance|partial, or true/false/1/0 with --task`,
    where,
  );
}

export interface LoadLabelsOptions {
  task?: LabelTask;
  dataDir: string;
}

/** A labels file or `pack:<pack>/<file>`; the HarmBench text validation set has its own reader. */
export function loadLabels(spec: string, opts: LoadLabelsOptions): LabelSet {
  const packed = /^pack:([^/]+)\/(.+)$/.exec(spec);
  const { file } = packed
    ? resolveDatasetFile({ pack: packed[1], file: packed[2] }, { dataDir: opts.dataDir })
    : { file: spec };
  const sha256 = fileSha(file);
  if (packed && `${packed[1]}/${packed[2]}` === HARMBENCH_VAL) {
    if (opts.task && opts.task !== 'attack-success')
      throw new InputError('the HarmBench validation set labels attack success', { field: '--task' });
    return { source: spec, sha256, task: 'attack-success', items: harmbenchValSet(file, opts.dataDir) };
  }
  return { source: spec, sha256, ...genericLabels(file, opts.task) };
}

function fileSha(file: string): string {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch (err) {
    throw new InputError(`cannot read labels: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      file,
    });
  }
}

function genericLabels(file: string, wanted: LabelTask | undefined): Omit<LabelSet, 'source' | 'sha256'> {
  const records = readResponses(file);
  const raw = readRecords(file);
  // XSTest's completion files are named for their model: the model is a subset key.
  const model = /^xstest_v2_completions_(.+)\.csv$/.exec(path.basename(file))?.[1];
  let task = wanted;
  let taskLine = 0;
  const items = records.map((rec): LabelItem => {
    if (rec.shape !== 'record') {
      throw new InputError('expected a record with prompt, response and label fields', {
        file,
        line: rec.line,
      });
    }
    const field = LABEL_FIELDS.find((f) => f in rec.meta);
    if (field === undefined) {
      throw new InputError(`no label (looked for ${LABEL_FIELDS.join(', ')})`, {
        file,
        line: rec.line,
        field: 'label',
      });
    }
    const parsed = parseLabel(rec.meta[field] as string, task, { file, line: rec.line, field });
    if (task !== undefined && parsed.task !== task) {
      throw new InputError(
        `a ${parsed.task} label in a ${task} file` + (taskLine ? ` (line ${taskLine} set the task)` : ''),
        { file, line: rec.line, field },
      );
    }
    if (task === undefined) {
      task = parsed.task;
      taskLine = rec.line;
    }
    // Breakdown keys by their own field names (the alias reader folds `type` into category).
    const fields = (raw[rec.index]?.value ?? {}) as Record<string, unknown>;
    const subsets: Record<string, string> = {};
    for (const f of SUBSET_FIELDS) {
      const v = fields[f];
      if ((typeof v === 'string' && v !== '') || typeof v === 'number')
        subsets[f === 'SemanticCategory' ? 'category' : f] ??= String(v);
    }
    if (model !== undefined && subsets['model'] === undefined) subsets['model'] = model;
    const caseId = rec.meta['case_id'];
    return {
      line: rec.line,
      ...(caseId ? { case_id: caseId } : {}),
      goal: rec.goal,
      prompt: rec.prompt,
      response: rec.response,
      ...(rec.meta['context'] ? { context: rec.meta['context'] } : {}),
      label: parsed.label,
      positive: parsed.positive,
      subsets,
    };
  });
  return { task: task as LabelTask, items };
}

/**
 * HarmBench's human-labelled text validation set as upstream scores it (notebooks/run_classifier_val_set):
 * gold = at least 2 of human_0..2 say yes; items whose BehaviorID is not in the text behaviors CSV are
 * skipped (3 behaviors, 6 items), leaving 596. Subsets: functional category (standard / contextual) and
 * semantic category; contextual behaviors carry their context string.
 */
function harmbenchValSet(file: string, dataDir: string): LabelItem[] {
  const behaviorsFile = path.join(dataDir, HARMBENCH_BEHAVIORS);
  const behaviors = new Map<string, Record<string, string>>();
  for (const { value } of readRecords(behaviorsFile, 'csv')) {
    const row = value as Record<string, string>;
    behaviors.set(row['BehaviorID'] as string, row);
  }
  const records = readRecords(file, 'json');
  const top = records[0]?.value;
  if (records.length !== 1 || !top || typeof top !== 'object' || Array.isArray(top)) {
    throw new InputError('expected one JSON object of BehaviorID -> items', { file });
  }
  const items: LabelItem[] = [];
  for (const [id, list] of Object.entries(top as Record<string, unknown>)) {
    const behavior = behaviors.get(id);
    if (!behavior) continue;
    if (!Array.isArray(list)) throw new InputError('expected a list of items', { file, field: id });
    list.forEach((raw: unknown, k) => {
      const where = { file, field: `${id}[${k}]` };
      const it = raw as Record<string, unknown>;
      const votes = ['human_0', 'human_1', 'human_2'].map((h) => it[h]);
      if (!votes.every((x) => x === 0 || x === 1))
        throw new InputError('expected human_0..2 to be 0 or 1', where);
      if (typeof it['generation'] !== 'string') throw new InputError('expected a string generation', where);
      const positive = (votes as number[]).reduce((a, b) => a + b, 0) >= 2;
      const context = behavior['ContextString'] ?? '';
      items.push({
        line: 1,
        goal: behavior['Behavior'] as string,
        prompt: typeof it['test_case'] === 'string' ? it['test_case'] : (behavior['Behavior'] as string),
        response: it['generation'],
        ...(context !== '' ? { context } : {}),
        label: positive ? 'harmful' : 'safe',
        positive,
        subsets: {
          functional: behavior['FunctionalCategory'] ?? '',
          category: behavior['SemanticCategory'] ?? '',
        },
      });
    });
  }
  return items;
}
