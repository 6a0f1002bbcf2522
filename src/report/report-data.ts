import type { Prompt } from '../types.js';
import { judgeKind, type RunRecord, type RunStore, type VerdictRecord } from '../store/store.js';
import { categoryAsrRows, type AsrRow, type CategoryAsrRow } from '../analysis/asr.js';
import { judgeAgreement, type AgreementReport } from '../analysis/agreement.js';
import { runPositions, type PositionGroup, type ResponsePosition } from '../analysis/refusal-position.js';
import type { TokenCounter } from '../analysis/token-positions.js';
import {
  correctedAsrRows,
  runAudits,
  type CorrectedFields,
  type JudgeAudit,
} from '../analysis/correction.js';
import { depthCurves, type DepthCurve } from '../analysis/depth.js';
import { runBonCurves, type BonCurve } from '../analysis/bon-curve.js';
import { BON_ATTACK } from '../attack/bon/index.js';
import { runJudgeValidity, type JudgeValidity } from './judge-validity.js';
import { runSearchCosts, type SearchCostFields } from '../analysis/search-cost.js';
import { conversationTurns, searchTree, type TreeNode } from './search-views.js';
import { redactUrls } from '../util/secrets.js';

/**
 * Everything a full report shows about one run, gathered from the store in one pass per table: metadata,
 * the ASR table, per-category rows, refusal positions, judge agreement and every case with its verdicts.
 * The HTML page embeds this object as JSON and renders it in the browser; the Markdown report uses the
 * aggregate parts.
 */
export interface ReportData {
  format: 'refusenik-report';
  generated_at: string;
  run: {
    id: string;
    name: string | null;
    status: string;
    created_at: string;
    updated_at: string;
    config_file: string | null;
    cases_total: number;
    versions: unknown;
    /** The config snapshot with secret-looking values (auth headers, keys) replaced by "[redacted]". */
    config: unknown;
  };
  counts: { cases: number; ok: number; errors: number; verdicts: number };
  requests: ReturnType<RunStore['requestSummary']>;
  /**
   * With the corrected ASR where the run has audit labels (all null otherwise), and the target queries and
   * cost per success.
   */
  asr: (AsrRow & CorrectedFields & SearchCostFields)[];
  categories: CategoryAsrRow[];
  /** Judge vs person on the audited cases, per judge (empty without labels). */
  audits: JudgeAudit[];
  /** Each judge's `judge validate` figures in the configuration this run used. */
  validity: JudgeValidity[];
  positions: { k: number; tokenizer: string | null; groups: PositionGroup[] };
  /** ASR by prefill depth k (the `prefill` attack's variants), per target x delivery x judge. */
  depth: DepthCurve[];
  /** Best-of-N's ASR(N) per target x variant, with intervals and the power-law fit (runs with `bon` cases). */
  bon: BonCurve[];
  agreement: AgreementReport;
  /** Judge ids of kind `keyword`: their ASR is not comparable with hand-judged numbers (see KEYWORD_ONLY_NOTE). */
  keyword_judges: string[];
  cases: ReportCase[];
}

export interface ReportCase {
  id: string;
  behavior_id: string;
  goal: string;
  category: string | null;
  target: string;
  attack: string;
  variant: string;
  sample: number;
  status: 'ok' | 'error';
  prompt: Prompt | null;
  response: string | null;
  /** Only when it differs from the response (e.g. CodeAttack's extracted output_list). */
  answer: string | null;
  error: string | null;
  latency_ms: number | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  /** First refusal phrase position in words (and tokens), null when the response has none. */
  refusal_word: number | null;
  refusal_token: number | null;
  /** The attack's trace (search attacks), as JSON text, cut at TRACE_LIMIT characters. */
  trace: string | null;
  /**
   * A multi-turn case (Crescendo, ActorAttack): its number of assistant turns; the conversation is the prompt's
   * messages and the response. Null for single-turn cases.
   */
  turns: number | null;
  /** A TAP case's search tree (every node, texts cut), or null. */
  tree: TreeNode[] | null;
  verdicts: ReportVerdict[];
}

export interface ReportVerdict {
  judge: string;
  harmful: boolean | null;
  refusal: boolean | null;
  score: number | null;
  reason: string | null;
  error: string | null;
  /** The judge answered without a readable verdict (counted apart, never a guess). */
  inconclusive: boolean;
  /** In a multi-turn case, the assistant turn the verdict is about (1-based), when it names one. */
  turn: number | null;
}

export interface ReportOptions {
  /** Count refusal positions in this tokenizer's tokens too. */
  tokens?: TokenCounter;
  /** The early-refusal window (default 5). */
  k?: number;
}

const TRACE_LIMIT = 20_000;

/** The run's judges (as they appear in its ASR rows) whose kind is `keyword`. */
export function keywordJudges(run: RunRecord, rows: readonly AsrRow[]): string[] {
  return [...new Set(rows.map((r) => r.judge))].filter((j) => judgeKind(run, j) === 'keyword');
}

export function collectReportData(store: RunStore, run: RunRecord, opts: ReportOptions = {}): ReportData {
  const k = opts.k ?? 5;
  const positions = runPositions(store, run.id, { k, tokens: opts.tokens });
  const asr = runSearchCosts(store, run.id, correctedAsrRows(store, run.id));
  return {
    format: 'refusenik-report',
    generated_at: new Date().toISOString(),
    run: {
      id: run.id,
      name: run.name,
      status: run.status,
      created_at: run.created_at,
      updated_at: run.updated_at,
      config_file: run.config_file,
      cases_total: run.cases_total,
      versions: run.versions,
      config: redactSecrets(run.config),
    },
    counts: store.counts(run.id),
    requests: store.requestSummary(run.id),
    asr,
    categories: categoryAsrRows(store, run.id, []),
    audits: [...runAudits(store, run.id).values()].filter((a) => a.audit_n > 0),
    validity: runJudgeValidity(store, run, [...new Set(asr.map((r) => r.judge))]),
    positions: { k, tokenizer: opts.tokens?.source ?? null, groups: positions.groups },
    depth: depthCurves(asr),
    // Read from the case traces, so only for runs that have Best-of-N cases.
    bon: asr.some((r) => r.attack === BON_ATTACK) ? runBonCurves(store, run.id) : [],
    agreement: judgeAgreement(store, run.id),
    keyword_judges: keywordJudges(run, asr),
    cases: reportCases(store, run.id, new Map(positions.records.map((r) => [r.case_id, r]))),
  };
}

function reportCases(store: RunStore, runId: string, positions: Map<string, ResponsePosition>): ReportCase[] {
  const verdicts = new Map<string, ReportVerdict[]>();
  for (const v of store.iterateVerdicts(runId)) {
    let list = verdicts.get(v.case_id);
    if (!list) verdicts.set(v.case_id, (list = []));
    list.push(reportVerdict(v));
  }
  const out: ReportCase[] = [];
  for (const c of store.iterateCases(runId)) {
    const pos = positions.get(c.case_id);
    const caseVerdicts = verdicts.get(c.case_id) ?? [];
    out.push({
      id: c.case_id,
      behavior_id: c.behavior_id,
      goal: c.goal,
      category: c.category,
      target: c.target,
      attack: c.attack,
      variant: c.variant,
      sample: c.sample,
      status: c.status,
      prompt: c.prompt,
      response: c.response,
      answer: c.answer !== null && c.answer !== c.response ? c.answer : null,
      error: c.error,
      latency_ms: c.latency_ms,
      prompt_tokens: c.prompt_tokens,
      completion_tokens: c.completion_tokens,
      refusal_word: pos?.word ?? null,
      refusal_token: pos?.token ?? null,
      trace: c.trace === null ? null : JSON.stringify(c.trace).slice(0, TRACE_LIMIT),
      turns: conversationTurns(c.prompt, c.trace, caseVerdicts),
      tree: searchTree(c.trace),
      verdicts: caseVerdicts,
    });
  }
  return out;
}

function reportVerdict(v: VerdictRecord): ReportVerdict {
  const bool = (x: number | null): boolean | null => (x === null ? null : x === 1);
  return {
    judge: v.judge,
    harmful: bool(v.harmful),
    refusal: bool(v.refusal),
    score: v.score,
    reason: v.reason,
    error: v.error,
    inconclusive: v.inconclusive === 1,
    turn: typeof v.details?.['turn'] === 'number' ? v.details['turn'] : null,
  };
}

const SECRET_KEY = /authorization|api[-_]?key|token|secret|password|cookie|bearer/i;

/**
 * Config snapshots may carry literal credentials in `headers` or `extra_body`, or in URLs (stores written
 * before they were redacted at creation); a report is meant to be shared, so any value under a
 * secret-looking key, and any URL's userinfo and credential parameters, are replaced. (`api_key_env` names
 * a variable, not a key.)
 */
export function redactSecrets(value: unknown): unknown {
  if (typeof value === 'string') return redactUrls(value);
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      const keepsName = key === 'api_key_env' || /_tokens$|^max_tokens$/.test(key);
      out[key] =
        SECRET_KEY.test(key) && !keepsName && typeof v !== 'object' ? '[redacted]' : redactSecrets(v);
    }
    return out;
  }
  return value;
}
