import { InputError } from '../errors.js';
import { LABEL_FIELDS, parseLabel } from '../dataset/labels.js';
import { readRecords } from '../dataset/records.js';
import { FIELD_ALIASES } from '../dataset/fields.js';
import type { CaseRecord, RunStore } from '../store/store.js';
import type { Prompt } from '../types.js';
import { Rng } from '../util/random.js';

/**
 * The per-run audit: which of a run's own cases a person labels, and reading labels back from a file.
 *
 * The sample is stratified by one judge's verdict: half judge-harmful, half judge-safe (a stratum smaller
 * than its half gives the rest to the other), drawn with a seeded generator and shown in a seeded shuffled
 * order, so a person cannot tell a case's verdict from its position and the same command resumes the same
 * sample. Equal allocation estimates PPV and NPV equally well even when successes are rare; the correction
 * (analysis/correction.ts) weights the strata by their share of the run.
 */

export interface AuditCase {
  case_id: string;
  goal: string;
  /** The full prompt as text (chat turns with their roles). */
  prompt: string;
  response: string;
  /** The judge's verdict on it (used for stratification; not shown to the person labelling). */
  judged: 'harmful' | 'safe';
}

export interface AuditSampleOptions {
  judge: string;
  n: number;
  seed: number;
}

/** The judges of a run that gave decided verdicts, in first-seen order. */
export function runJudges(store: RunStore, runId: string): string[] {
  const seen = new Set<string>();
  for (const v of store.iterateVerdicts(runId)) seen.add(v.judge);
  return [...seen];
}

export function auditSample(store: RunStore, runId: string, opts: AuditSampleOptions): AuditCase[] {
  const verdict = new Map<string, boolean>();
  for (const v of store.iterateVerdicts(runId)) {
    if (v.judge !== opts.judge || v.error !== null || v.inconclusive === 1 || v.harmful === null) continue;
    verdict.set(v.case_id, v.harmful === 1);
  }
  if (verdict.size === 0) {
    throw new InputError(`judge '${opts.judge}' has no decided verdicts in run ${runId}`, {
      field: '--judge',
    });
  }
  const strata: { harmful: CaseRecord[]; safe: CaseRecord[] } = { harmful: [], safe: [] };
  for (const c of store.iterateCases(runId)) {
    const h = verdict.get(c.case_id);
    if (c.status !== 'ok' || h === undefined) continue;
    (h ? strata.harmful : strata.safe).push(c);
  }
  let nh = Math.min(strata.harmful.length, Math.ceil(opts.n / 2));
  const ns = Math.min(strata.safe.length, opts.n - nh);
  nh = Math.min(strata.harmful.length, opts.n - ns);
  const rng = new Rng(`audit:${runId}:${opts.judge}:${opts.seed}`);
  const pick = (list: CaseRecord[], k: number, judged: AuditCase['judged']): AuditCase[] =>
    rng.sampleIndices(list.length, k).map((i) => auditCase(list[i] as CaseRecord, judged));
  return rng.shuffle([...pick(strata.harmful, nh, 'harmful'), ...pick(strata.safe, ns, 'safe')]);
}

function auditCase(c: CaseRecord, judged: AuditCase['judged']): AuditCase {
  return {
    case_id: c.case_id,
    goal: c.goal,
    prompt: promptAsText(c.prompt),
    response: c.response ?? '',
    judged,
  };
}

/** A stored prompt as plain text: a completion's text, or each chat turn headed by its role. */
export function promptAsText(p: Prompt | null): string {
  if (p === null) return '';
  if (p.kind === 'completion') return p.text;
  if (p.messages.length === 1 && p.messages[0]?.role === 'user') return p.messages[0].content;
  return p.messages.map((m) => `[${m.role}]\n${m.content}`).join('\n\n');
}

export interface FileLabel {
  line: number;
  case_id: string;
  label: 'harmful' | 'safe';
}

/**
 * Labels for a run's cases from a JSONL/CSV/JSON file: each record names its case by `case_id`, or by its
 * `prompt` + `response` (matched exactly against the run's cases; every case with that text gets the label),
 * and carries a `label` harmful|safe (true/false, 1/0 mean harmful/safe). Errors name file, line and field.
 */
export function readAuditLabels(file: string, store: RunStore, runId: string): FileLabel[] {
  const byText = new Map<string, string[]>();
  const ids = new Set<string>();
  for (const c of store.iterateCases(runId)) {
    ids.add(c.case_id);
    const key = textKey(promptAsText(c.prompt), c.response ?? '');
    byText.set(key, [...(byText.get(key) ?? []), c.case_id]);
  }
  const out: FileLabel[] = [];
  for (const { value, line } of readRecords(file)) {
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      throw new InputError('expected an object with case_id (or prompt and response) and label', {
        file,
        line,
      });
    }
    const rec = value as Record<string, unknown>;
    const labelField = LABEL_FIELDS.find((f) => f in rec);
    if (labelField === undefined) throw new InputError('no label', { file, line, field: 'label' });
    const raw = rec[labelField];
    if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
      throw new InputError('expected harmful or safe', { file, line, field: labelField });
    }
    const parsed = parseLabel(String(raw), 'attack-success', { file, line, field: labelField });
    if (parsed.task !== 'attack-success') {
      throw new InputError(
        `'${String(raw)}' is a refusal label; an audit labels attack success: harmful or safe`,
        {
          file,
          line,
          field: labelField,
        },
      );
    }
    const label = parsed.label as FileLabel['label'];
    if ('case_id' in rec) {
      const id = rec['case_id'];
      if (typeof id !== 'string' || !ids.has(id)) {
        throw new InputError(`no case '${String(id)}' in run ${runId}`, { file, line, field: 'case_id' });
      }
      out.push({ line, case_id: id, label });
      continue;
    }
    const promptKey = FIELD_ALIASES.prompt.find((f) => typeof rec[f] === 'string');
    const responseKey = FIELD_ALIASES.response.find((f) => typeof rec[f] === 'string');
    if (promptKey === undefined || responseKey === undefined) {
      throw new InputError('expected case_id, or prompt and response strings', {
        file,
        line,
        field: promptKey === undefined ? 'prompt' : 'response',
      });
    }
    const matches = byText.get(textKey(rec[promptKey] as string, rec[responseKey] as string));
    if (!matches) {
      throw new InputError(`no case of run ${runId} has this prompt and response`, {
        file,
        line,
        field: promptKey,
      });
    }
    for (const id of matches) out.push({ line, case_id: id, label });
  }
  return out;
}

function textKey(prompt: string, response: string): string {
  return `${prompt}\u0000${response}`;
}
