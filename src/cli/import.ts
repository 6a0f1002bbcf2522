import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { InputError, RuntimeFailure } from '../errors.js';
import { DEFAULT_DB, RunStore, emptyCase, type CaseRow } from '../store/store.js';
import type { RunLease } from '../store/lease.js';
import type { Judge } from '../judge/judge.js';
import type { ResponseRecord } from '../dataset/responses.js';
import type { Verdict } from '../types.js';
import { recordBehavior, recordPrompt, summarizeVerdicts } from '../judge/offline.js';
import { runVersions } from '../runner/versions.js';
import { canonicalJson, sha256 } from '../util/hash.js';
import { judgeAgreement } from '../analysis/agreement.js';
import { printJson } from './common.js';
import {
  CliModels,
  addInputOptions,
  addJudgeModelOptions,
  buildJudge,
  readInput,
  runJudge,
  type InputFlags,
  type JudgeModelFlags,
} from './judge.js';

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

/** Attack names DeRTa's results folders and file names use. */
const KNOWN_ATTACKS = [
  'codeattack',
  'completionattack',
  'jailbreakchat',
  'selfcipher',
  'autodan',
  'pair',
  'alpacaeval',
  'alpaca_eval',
  'gsm8k',
  'mmlu',
];

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

/** `lora_Llama-3-70B_vanill_eval_codeattack_200.json` -> target `lora_Llama-3-70B_vanill`, attack `codeattack`. */
export function labelsFromPath(file: string): { target: string; attack: string } {
  const parts = path
    .resolve(file)
    .split(path.sep)
    .map((p) => p.toLowerCase());
  const base = path.basename(file).replace(/\.[^.]+$/, '');
  const attack =
    KNOWN_ATTACKS.find((a) => parts.slice(0, -1).includes(a)) ??
    KNOWN_ATTACKS.find((a) => base.toLowerCase().includes(a)) ??
    'imported';
  let target = base.replace(/^PAIR_result_/i, '');
  const cut = target.search(new RegExp(`_(eval_)?(${KNOWN_ATTACKS.join('|')})(_|$)`, 'i'));
  if (cut > 0) target = target.slice(0, cut);
  target = target.replace(/_\d+$/, '') || base;
  return { target, attack: attack === 'alpaca_eval' ? 'alpacaeval' : attack };
}

async function importCommand(flags: ImportFlags): Promise<number> {
  const records = readInput(flags);
  const bytes = readFileSync(flags.input);
  const fileSha = sha256(bytes);
  const guessed = labelsFromPath(flags.input);
  const target = flags.target ?? guessed.target;
  const attack = flags.attack ?? guessed.attack;
  const judges = flags.judge?.length ? flags.judge : ['keyword'];
  const twice = judges.find((j, i) => judges.indexOf(j) !== i);
  if (twice) throw new InputError(`--judge ${twice} is given twice`, { field: '--judge' });
  const source = path.resolve(flags.input);
  const runId = `import-${sha256(canonicalJson({ file: fileSha, target, attack })).slice(0, 12)}`;

  const models = new CliModels(flags);
  const store = RunStore.open(flags.db);
  let lease: RunLease | undefined;
  try {
    // Build every judge before writing anything, so a bad judge option leaves no half-made run behind.
    const built: Judge[] = [];
    for (const name of judges) built.push(await buildJudge(name, flags, models, judges.length > 1));
    // One writer per run: a second import of the same file is refused while the first is alive.
    lease = store.leases.acquire(runId);
    const earlier = store.getRun(runId);
    // An import killed before its verdicts were all in stays `running`: the same command resumes it, and
    // only missing verdicts are asked for (model-judge verdicts are paid for; none is thrown away).
    const resuming = earlier !== undefined && earlier.status === 'running' && !flags.replace;
    if (earlier && !resuming) {
      if (!flags.replace) {
        throw new InputError(
          `already imported as run ${runId} in ${flags.db} (--replace to import it again)`,
        );
      }
      store.deleteRun(runId);
    }
    const shapes: Record<string, number> = {};
    for (const r of records) shapes[r.shape] = (shapes[r.shape] ?? 0) + 1;
    const config = {
      import: { file: source, sha256: fileSha, records: records.length, shapes, target, attack, judges },
    };
    if (!resuming)
      store.createRun({
        id: runId,
        name: flags.name ?? path.basename(flags.input),
        status: 'running',
        config_json: JSON.stringify(config),
        config_hash: sha256(canonicalJson(config)),
        config_file: source,
        versions_json: JSON.stringify(runVersions(fileSha)),
        cases_total: records.length,
      });
    const caseIds = records.map((r) => sha256(JSON.stringify([fileSha, r.index])).slice(0, 16));
    // Every case first (a large file is committed in several transactions: a resume adds the missing
    // ones), then the verdicts, each stored as it arrives.
    const stored = resuming ? store.caseStatuses(runId) : new Map<string, string>();
    records.forEach((r, i) => {
      const id = caseIds[i] as string;
      if (!stored.has(id)) store.putCase(caseRow(runId, id, r, source, target, attack));
    });
    store.flush();
    // Judge-model calls are cached and logged (role judge) in this run, like a run's own judges.
    models.calls.bind(store, runId);
    const summaries = [];
    let kept = 0;
    for (const judge of built) {
      // Each verdict is stored as it arrives, so a kill loses only the calls in flight.
      const todo = records
        .map((_, i) => i)
        .filter((i) => !resuming || !store.judgedBy(runId, caseIds[i] as string).has(judge.id));
      kept += records.length - todo.length;
      await runJudge(
        judge,
        todo.map((i) => records[i] as ResponseRecord),
        flags,
        flags.progress && !flags.json,
        (k, v) => store.putVerdict(runId, caseIds[todo[k] as number] as string, v),
        lease.signal,
      ).catch((err: unknown) => {
        // Another process took this import over (our lease expired): stop writing, keep what is stored.
        if (lease?.signal.aborted)
          throw new RuntimeFailure(`import ${runId}: another process took over its lease; stopped`);
        throw err;
      });
      store.flush();
      summaries.push(summarizeVerdicts(judge.id, storedVerdicts(store, runId, caseIds, judge.id)));
    }
    store.updateRun(runId, { status: 'imported' });
    // With two or more judges, how far they agree (Cohen's kappa on the harmful decision).
    const agreement = built.length > 1 ? judgeAgreement(store, runId).pairs : undefined;
    if (flags.json) {
      printJson({
        run_id: runId,
        cases: records.length,
        target,
        attack,
        shapes,
        judges: summaries,
        ...(resuming ? { resumed: true, verdicts_kept: kept } : {}),
        agreement,
      });
    } else {
      process.stdout.write(
        `imported ${records.length} responses as run ${runId} (target ${target}, attack ${attack}); ` +
          `${resuming ? `resumed: ${kept} stored verdicts kept; ` : ''}` +
          `see: refusenik report ${runId} --db ${flags.db}\n`,
      );
    }
    return 0;
  } finally {
    lease?.release();
    store.close();
    await models.close();
  }
}

/** One judge's stored verdicts for the cases, in case order (what the summary counts after a resume). */
function storedVerdicts(store: RunStore, runId: string, caseIds: string[], judge: string): Verdict[] {
  const out: Verdict[] = [];
  for (const id of caseIds) {
    const v = store.verdictsFor(runId, id).find((x) => x.judge === judge);
    if (!v) continue;
    out.push({
      judge,
      refusal: v.refusal === null ? null : v.refusal === 1,
      harmful: v.harmful === null ? null : v.harmful === 1,
      score: v.score,
      ...(v.error !== null ? { error: v.error } : {}),
      ...(v.inconclusive ? { inconclusive: true } : {}),
    });
  }
  return out;
}

function caseRow(
  runId: string,
  caseId: string,
  rec: ResponseRecord,
  source: string,
  target: string,
  attack: string,
): CaseRow {
  const behavior = recordBehavior(rec, source);
  return {
    ...emptyCase(),
    run_id: runId,
    case_id: caseId,
    behavior_id: behavior.id,
    goal: rec.goal,
    category: rec.category ?? null,
    behavior_json: JSON.stringify(behavior),
    attack,
    variant: rec.shape === 'record' ? 'imported' : rec.shape,
    target,
    prompt_json: JSON.stringify(recordPrompt(rec)),
    response: rec.response,
    answer: rec.response,
    trace_json: Object.keys(rec.meta).length ? JSON.stringify({ imported: rec.meta, line: rec.line }) : null,
    created_at: new Date().toISOString(),
  };
}
