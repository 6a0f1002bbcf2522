import type { RunStore, VerdictRecord } from '../store/store.js';
import { cohenKappa } from './stats.js';

/**
 * How much the judges of one run agree, pair by pair, on the cases both of them decided: the 2x2 confusion
 * matrix, raw agreement and Cohen's kappa (agreement corrected for chance). A keyword judge and an LLM
 * rubric that agree 80% of the time on a run where 80% of answers are refusals agree no better than chance;
 * kappa says so.
 */

/** Which binary decision to compare: the safety verdict (default) or the refusal flag. */
export type Decision = 'harmful' | 'refusal';

export interface JudgePairAgreement {
  judge_a: string;
  judge_b: string;
  decision: Decision;
  /** Cases both judges decided (failed verdicts and null decisions are left out). */
  n: number;
  /** [[a yes & b yes, a yes & b no], [a no & b yes, a no & b no]] ("yes" = harmful, or refused). */
  confusion: [[number, number], [number, number]];
  agreement: number | null;
  kappa: number | null;
}

export interface AgreementReport {
  judges: string[];
  decision: Decision;
  pairs: JudgePairAgreement[];
}

/** Agreement for every pair of judges in the run (judges in first-seen order). */
export function judgeAgreement(
  store: RunStore,
  runId: string,
  decision: Decision = 'harmful',
): AgreementReport {
  return agreementFromVerdicts(store.iterateVerdicts(runId), decision);
}

export function agreementFromVerdicts(
  verdicts: Iterable<VerdictRecord>,
  decision: Decision = 'harmful',
): AgreementReport {
  const judges: string[] = [];
  const byCase = new Map<string, Map<string, boolean>>();
  for (const v of verdicts) {
    if (!judges.includes(v.judge)) judges.push(v.judge);
    const value = v[decision];
    if (v.error !== null || value === null) continue;
    let m = byCase.get(v.case_id);
    if (!m) byCase.set(v.case_id, (m = new Map()));
    m.set(v.judge, value === 1);
  }
  const pairs: JudgePairAgreement[] = [];
  for (let i = 0; i < judges.length; i++) {
    for (let j = i + 1; j < judges.length; j++) {
      pairs.push(pairAgreement(judges[i] as string, judges[j] as string, byCase, decision));
    }
  }
  return { judges, decision, pairs };
}

function pairAgreement(
  a: string,
  b: string,
  byCase: Map<string, Map<string, boolean>>,
  decision: Decision,
): JudgePairAgreement {
  const m: [[number, number], [number, number]] = [
    [0, 0],
    [0, 0],
  ];
  for (const verdicts of byCase.values()) {
    const va = verdicts.get(a);
    const vb = verdicts.get(b);
    if (va === undefined || vb === undefined) continue;
    m[va ? 0 : 1][vb ? 0 : 1]++;
  }
  const n = m[0][0] + m[0][1] + m[1][0] + m[1][1];
  return {
    judge_a: a,
    judge_b: b,
    decision,
    n,
    confusion: m,
    agreement: n ? (m[0][0] + m[1][1]) / n : null,
    kappa: cohenKappa(m),
  };
}
