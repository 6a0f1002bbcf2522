import path from 'node:path';
import { InputError } from '../errors.js';
import { emptyCase, type CaseRow, type RunStore, type VerdictRecord } from '../store/store.js';
import type { Judge } from '../judge/judge.js';
import type { ResponseRecord } from '../dataset/responses.js';
import type { Verdict } from '../types.js';
import { judgeRecords, recordBehavior, recordPrompt, summarizeVerdicts } from '../judge/offline.js';
import { canonicalJson, sha256 } from '../util/hash.js';
import { runVersions } from './versions.js';
import { withStoredRun } from './stored-run.js';

/**
 * A file of recorded responses stored as a run (status `imported`) and judged, so report, analyze and
 * compare work on it like on any run. The run id is content-addressed (file sha256, target, attack): a
 * second import of the same file is refused (or replaced), and an import killed while judging resumes,
 * asking only for the verdicts it lacks.
 */

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

export interface ImportOptions {
  /** The responses file, and its records as read. */
  file: string;
  fileSha256: string;
  records: readonly ResponseRecord[];
  /** Labels for the cases (default: from the file's path, see labelsFromPath). */
  target?: string;
  attack?: string;
  /** Run name (default: the file's name). */
  name?: string;
  /** Built before anything is written, so a bad judge option leaves no half-made run behind. */
  judges: readonly Judge[];
  /** Replace an earlier import of the same file under the same labels. */
  replace: boolean;
  concurrency: number;
  progress: boolean;
  /** Called once the run exists, before any judge call (the CLI binds its judge models' request log). */
  onRun?: (runId: string) => void;
}

export interface ImportResult {
  run_id: string;
  cases: number;
  target: string;
  attack: string;
  /** Records per input shape (record, completion, ...). */
  shapes: Record<string, number>;
  judges: ReturnType<typeof summarizeVerdicts>[];
  resumed?: true;
  verdicts_kept?: number;
}

/** The id suffix of a replacement import while it is being made (see importResponses). */
const REPLACEMENT_SUFFIX = '-replacement';

export async function importResponses(store: RunStore, o: ImportOptions): Promise<ImportResult> {
  const guessed = labelsFromPath(o.file);
  const target = o.target ?? guessed.target;
  const attack = o.attack ?? guessed.attack;
  const source = path.resolve(o.file);
  const { records, fileSha256: fileSha } = o;
  const runId = `import-${sha256(canonicalJson({ file: fileSha, target, attack })).slice(0, 12)}`;
  // One writer per run: a second import of the same file is refused while the first is alive.
  return withStoredRun(store, runId, undefined, async (run) => {
    const earlier = run.stored();
    if (earlier && earlier.status !== 'running' && !o.replace) {
      throw new InputError(
        `already imported as run ${runId} in ${store.file} (--replace to import it again)`,
      );
    }
    // --replace of a finished import builds the new one beside it, under its own id, and swaps it in only
    // once every verdict is in: a replacement that fails or is killed leaves the earlier import whole.
    const replacing = o.replace && earlier !== undefined && earlier.status !== 'running';
    const workId = replacing ? `${runId}${REPLACEMENT_SUFFIX}` : runId;
    const work = replacing ? run.stored(workId) : earlier;
    // An import killed before its verdicts were all in stays `running`: the same command resumes it, and
    // only missing verdicts are asked for (model-judge verdicts are paid for; none is thrown away). A
    // killed replacement resumes the same way; --replace of a killed first import starts it again.
    const resuming = work !== undefined && work.status === 'running' && (replacing || !o.replace);
    if (work && !resuming) store.deleteRun(workId);
    const shapes: Record<string, number> = {};
    for (const r of records) shapes[r.shape] = (shapes[r.shape] ?? 0) + 1;
    const judgeIds = o.judges.map((j) => j.id);
    const config = {
      import: {
        file: source,
        sha256: fileSha,
        records: records.length,
        shapes,
        target,
        attack,
        judges: judgeIds,
      },
    };
    if (!resuming)
      run.register({
        id: workId,
        name: o.name ?? path.basename(o.file),
        config,
        configFile: source,
        versions: runVersions(fileSha),
        casesTotal: records.length,
      });
    const caseIds = records.map((r) => sha256(JSON.stringify([fileSha, r.index])).slice(0, 16));
    // Every case first (a large file is committed in several transactions: a resume adds the missing
    // ones), then the verdicts, each stored as it arrives.
    const stored = resuming ? store.caseStatuses(workId) : new Map<string, string>();
    records.forEach((r, i) => {
      const id = caseIds[i] as string;
      if (!stored.has(id)) store.putCase(caseRow(workId, id, r, source, target, attack));
    });
    store.flush();
    o.onRun?.(workId);
    const summaries = [];
    let kept = 0;
    for (const judge of o.judges) {
      const todo = records
        .map((_, i) => i)
        .filter((i) => !resuming || !store.judgedBy(workId, caseIds[i] as string).has(judge.id));
      kept += records.length - todo.length;
      await judgeRecords(
        judge,
        todo.map((i) => records[i] as ResponseRecord),
        o.file,
        {
          concurrency: o.concurrency,
          progress: o.progress,
          onVerdict: (k, v) => store.putVerdict(workId, caseIds[todo[k] as number] as string, v),
          signal: run.signal,
        },
      ).catch((err: unknown) => {
        // Another process took this import over (our lease expired): stop writing, keep what is stored.
        run.assertHeld('import');
        throw err;
      });
      store.flush();
      summaries.push(summarizeVerdicts(judge.id, storedVerdicts(store, workId, caseIds, judge.id)));
    }
    run.close('imported', workId);
    // One transaction: readers see the earlier import or the new one, never neither.
    if (replacing) store.replaceRun(workId, runId);
    return {
      run_id: runId,
      cases: records.length,
      target,
      attack,
      shapes,
      judges: summaries,
      ...(resuming ? { resumed: true as const, verdicts_kept: kept } : {}),
    };
  });
}

/** One judge's stored verdicts for the cases, in case order (what the summary counts after a resume). */
function storedVerdicts(store: RunStore, runId: string, caseIds: string[], judge: string): Verdict[] {
  const byCase = new Map<string, VerdictRecord>();
  for (const v of store.iterateVerdicts(runId)) if (v.judge === judge) byCase.set(v.case_id, v);
  const out: Verdict[] = [];
  for (const id of caseIds) {
    const v = byCase.get(id);
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
