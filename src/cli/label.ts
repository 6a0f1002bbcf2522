import os from 'node:os';
import type { Command } from 'commander';
import { InputError } from '../errors.js';
import { auditSample, readAuditLabels, runJudges, type AuditCase } from '../analysis/audit.js';
import { runAudits } from '../analysis/correction.js';
import { DEFAULT_DB, RunStore } from '../store/store.js';
import { printText, terminalSafe } from '../util/terminal.js';
import { intOption, printJson, writeJsonl } from './common.js';

/**
 * `refusenik label <run-id>`: a person labels a sample of the run's own cases (harmful / safe), for the
 * misclassification-corrected ASR in reports. Three ways in: the interactive view (keys h / s / k / q, the
 * goal, prompt and response in full, paged on a terminal; resumable, labelled cases are not asked again),
 * `--export` (the sample as JSONL to label elsewhere; the judge's verdict is left out so labelling is blind)
 * and `--from` (labels read back from a file).
 */

interface LabelFlags {
  db: string;
  judge?: string;
  n: number;
  seed: number;
  labeller: string;
  export?: string;
  from?: string;
  json?: boolean;
}

export function registerLabelCommand(program: Command): void {
  program
    .command('label')
    .description(
      "audit a run: label a sample of its cases (stratified by a judge's verdict) as harmful or safe; " +
        'reports then show the corrected ASR beside the raw one',
    )
    .argument('<run-id>', 'run id (or a unique prefix; see: refusenik runs list)')
    .option('--db <file>', 'run store (SQLite)', DEFAULT_DB)
    .option('--judge <id>', "stratify by this judge's verdicts (default: the run's first judge)")
    .option('--n <n>', 'sample size (half judge-harmful, half judge-safe)', intOption('--n', 1), 100)
    .option('--seed <n>', 'sampling seed', intOption('--seed', 0), 0)
    .option('--labeller <name>', 'who labels (stored with each label)', defaultLabeller())
    .option(
      '--export <file>',
      'write the unlabelled part of the sample as JSONL (case_id, goal, prompt, response, label)',
    )
    .option(
      '--from <file>',
      'read labels: JSONL/CSV/JSON records with case_id (or prompt + response) and label',
    )
    .option('--json', 'print {run_id, judge, labelled, labels, audits} on stdout')
    .addHelpText(
      'after',
      '\nKeys in the view: h harmful, s safe, k skip, q quit; space / b next / previous page.\n' +
        'Without a terminal the keys are read from stdin (e.g. printf "hsk" | refusenik label <run>).\n\n' +
        'Examples:\n' +
        '  refusenik label <run-id> --n 60\n' +
        '  refusenik label <run-id> --export todo.jsonl   # fill in "label": "harmful" | "safe"\n' +
        '  refusenik label <run-id> --from todo.jsonl',
    )
    .action(async (runArg: string, flags: LabelFlags) => {
      process.exitCode = await labelCommand(runArg, flags);
    });
}

/** Two lines that give one case different labels: neither can be stored; the error names both lines. */
function refuseConflicts(
  file: string,
  labels: readonly { line?: number; case_id: string; label: string }[],
): void {
  const first = new Map<string, { line?: number; label: string }>();
  for (const l of labels) {
    const seen = first.get(l.case_id);
    if (!seen) first.set(l.case_id, l);
    else if (seen.label !== l.label) {
      throw new InputError(
        `case ${l.case_id} is labelled '${seen.label}' on line ${seen.line ?? '?'} and '${l.label}' on line ` +
          `${l.line ?? '?'}; give each case one label (nothing was stored)`,
        { file, line: l.line, field: 'label' },
      );
    }
  }
}

function defaultLabeller(): string {
  try {
    return os.userInfo().username || 'human';
  } catch {
    return 'human';
  }
}

async function labelCommand(runArg: string, flags: LabelFlags): Promise<number> {
  if (flags.export && flags.from) throw new InputError('give --export or --from, not both');
  // --export only reads: it works on a store this user may read but not write.
  const store = flags.export ? RunStore.openReadOnly(flags.db) : RunStore.openExisting(flags.db);
  try {
    const run = store.findRun(runArg);
    if (!run) throw new InputError(`no run '${runArg}' in ${flags.db} (see: refusenik runs list)`);
    let labelled = 0;
    let judge: string | undefined = flags.judge;
    if (flags.from) {
      const labels = readAuditLabels(flags.from, store, run.id);
      refuseConflicts(flags.from, labels);
      for (const l of labels)
        store.putLabel({ run_id: run.id, case_id: l.case_id, label: l.label, labeller: flags.labeller });
      labelled = labels.length;
    } else {
      judge ??= runJudges(store, run.id)[0];
      if (judge === undefined) throw new InputError(`run ${run.id} has no verdicts to stratify by`);
      const done = new Set(store.labelsFor(run.id).map((l) => l.case_id));
      const todo = auditSample(store, run.id, { judge, n: flags.n, seed: flags.seed }).filter(
        (c) => !done.has(c.case_id),
      );
      if (flags.export) {
        await writeJsonl(
          flags.export,
          todo.map((c) => ({
            case_id: c.case_id,
            goal: c.goal,
            prompt: c.prompt,
            response: c.response,
            label: '',
          })),
          { protect: { 'the run store': flags.db } },
        );
        process.stderr.write(`${todo.length} cases to label -> ${flags.export}\n`);
      } else {
        labelled = await interactive(
          todo,
          (c, label) =>
            store.putLabel({ run_id: run.id, case_id: c.case_id, label, labeller: flags.labeller }),
          flags.json ? process.stderr : process.stdout,
        );
      }
    }
    const audits = [...runAudits(store, run.id).values()];
    const total = store.labelsFor(run.id).length;
    if (flags.json) printJson({ run_id: run.id, judge: judge ?? null, labelled, labels: total, audits });
    else if (!flags.export) {
      printText(`${labelled} labels stored (${total} in run ${run.id}); see: refusenik report ${run.id}\n`);
    }
    return 0;
  } finally {
    store.close();
  }
}

type Out = NodeJS.WriteStream;

/** The interactive view; returns how many labels were given. Each label is stored as soon as it is keyed. */
async function interactive(
  cases: AuditCase[],
  store: (c: AuditCase, label: 'harmful' | 'safe') => void,
  out: Out,
): Promise<number> {
  if (cases.length === 0) {
    out.write('nothing to label: every case of the sample is labelled\n');
    return 0;
  }
  const keys = new KeyReader(process.stdin);
  let given = 0;
  try {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i] as AuditCase;
      const pages = paginate(caseText(c), keys.tty ? out.rows : undefined, out.columns);
      let page = 0;
      for (;;) {
        show(out, keys.tty, `case ${i + 1}/${cases.length}`, pages, page);
        const key = await keys.next();
        if (key === null || key === 'q' || key === '\u0003') {
          out.write(`\nstopped: ${given} labelled, ${cases.length - i} left (run again to resume)\n`);
          return given;
        }
        if (key === 'h' || key === 's') {
          store(c, key === 'h' ? 'harmful' : 'safe');
          given++;
          break;
        }
        if (key === 'k') break;
        if (key === ' ' && page < pages.length - 1) page++;
        else if (key === 'b' && page > 0) page--;
      }
    }
    out.write(`\ndone: ${given} labelled\n`);
    return given;
  } finally {
    keys.close();
  }
}

/** Model output is hostile text: control characters (terminal escapes) are shown, never interpreted. */
function caseText(c: AuditCase): string {
  return [
    '== GOAL ==',
    terminalSafe(c.goal),
    '',
    '== PROMPT ==',
    terminalSafe(c.prompt),
    '',
    '== RESPONSE ==',
    terminalSafe(c.response),
  ].join('\n');
}

/** Wrapped lines in pages of the terminal's height (one page without a terminal). */
function paginate(text: string, rows: number | undefined, columns: number | undefined): string[] {
  const width = Math.max(20, columns ?? 100);
  const lines: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\t/g, '  ');
    if (line === '') lines.push('');
    for (let i = 0; i < line.length; i += width) lines.push(line.slice(i, i + width));
  }
  if (!rows) return [lines.join('\n')];
  const size = Math.max(3, rows - 3);
  const pages: string[] = [];
  for (let i = 0; i < lines.length; i += size) pages.push(lines.slice(i, i + size).join('\n'));
  return pages.length ? pages : [''];
}

function show(out: Out, tty: boolean, title: string, pages: string[], page: number): void {
  if (tty) out.write('\u001b[2J\u001b[H');
  const more = pages.length > 1 ? `  page ${page + 1}/${pages.length} (space/b)` : '';
  out.write(`${title}${more}\n${pages[page] ?? ''}\n-- h harmful | s safe | k skip | q quit --\n`);
}

/** Single keys from stdin: raw mode on a terminal; from a pipe, each character (newlines ignored). */
class KeyReader {
  readonly tty: boolean;
  private readonly buffered: string[] = [];
  private waiting: ((key: string | null) => void) | undefined;
  private ended = false;
  private readonly onData = (d: Buffer | string): void => {
    for (const ch of d.toString()) {
      if (!this.tty && (ch === '\n' || ch === '\r')) continue;
      this.push(ch);
    }
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    this.waiting?.(null);
    this.waiting = undefined;
  };

  constructor(private readonly input: NodeJS.ReadStream) {
    this.tty = Boolean(input.isTTY);
    if (this.tty) input.setRawMode(true);
    input.on('data', this.onData);
    input.on('end', this.onEnd);
    input.resume();
  }

  private push(key: string): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w(key);
    } else this.buffered.push(key);
  }

  next(): Promise<string | null> {
    const k = this.buffered.shift();
    if (k !== undefined) return Promise.resolve(k);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  close(): void {
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    if (this.tty) this.input.setRawMode(false);
    this.input.pause();
  }
}
