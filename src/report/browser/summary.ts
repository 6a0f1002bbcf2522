import type { ReportData } from '../report-data.js';
import { section, table, type Cell } from './blocks.js';
import { add, el } from './dom.js';
import { asrCi, attackName, DASH, pct } from './format.js';
import type { Report } from './state.js';

/** The ASR table (with corrected ASR and the judges' validation where there are any) and the audits. */
export function renderSummary({ data, app }: Report): void {
  const sum = section(
    app,
    'summary',
    'Attack success rate',
    'ASR = successes / cases the judge scored, with 95% Wilson intervals. Target errors, judge failures and inconclusive verdicts (the judge answered but gave no readable verdict) are counted apart, never as refusals. Queries / success: target queries of all the cases (a search attack counts every query of its search) per success; cost / success: USD of every model call (attacker, target, judge) per success.',
  );
  const keywordJudges = data.keyword_judges || [];
  if (keywordJudges.length)
    add(
      sum,
      el(
        'p',
        'note',
        'Judged by keyword: ' +
          keywordJudges.join(', ') +
          ". Refusal phrases cannot tell harmful content from an answer that only looks compliant (CodeAttack code with placeholders or the goal restated, a late refusal after harmful steps): this ASR is not comparable with hand-judged numbers such as the paper's.",
      ),
    );
  const audited = data.asr.some((r) => r.audit_n !== null && r.audit_n !== undefined);
  const validity = new Map<string, ReportData['validity'][number]['validations']>();
  for (const v of data.validity || []) validity.set(v.judge, v.validations);
  function correctedCi(r: ReportData['asr'][number]): string {
    if (r.asr_corrected === null || r.asr_corrected === undefined) return DASH;
    const b = (x: number | null | undefined): string =>
      x === null || x === undefined ? '?' : (x * 100).toFixed(1);
    return `${pct(r.asr_corrected)} [${b(r.asr_corrected_ci_low)}, ${b(r.asr_corrected_ci_high)}]`;
  }
  function validated(judge: string): string {
    const list = validity.get(judge) || [];
    if (!list.length) return 'not validated';
    return list
      .map(
        (v) =>
          `acc ${pct(v.accuracy)} \u00b7 prec ${pct(v.precision)} \u00b7 rec ${pct(v.recall)} (n ${v.n}, ${v.labels})`,
      )
      .join('; ');
  }
  const sumHead = ['target', 'attack', 'judge', 'n', 'ASR [95% CI]', 'queries / success', 'cost / success'];
  if (audited) sumHead.push('corrected ASR [95% CI]', 'audit n');
  function perSuccess(x: number | null | undefined, digits: number, prefix = ''): string {
    return x === null || x === undefined ? DASH : prefix + x.toFixed(digits);
  }
  const panels = data.asr.some((r) => r.disagreement > 0);
  sumHead.push('refusals', 'mean score', 'inconclusive', 'coverage');
  if (panels) sumHead.push('disagreement');
  sumHead.push('target errors', 'judge errors', 'judge validated');
  table(
    sum,
    sumHead,
    data.asr.map((r) => {
      const cells: Cell[] = [
        r.target,
        attackName(r),
        r.judge,
        r.n,
        asrCi(r),
        perSuccess(r.queries_per_success, 1),
        perSuccess(r.cost_per_success, 4, '$'),
      ];
      if (audited) cells.push(correctedCi(r), r.audit_n === null ? DASH : r.audit_n);
      cells.push(
        r.refusals,
        r.mean_score === null ? DASH : r.mean_score.toFixed(2),
        r.inconclusive,
        pct(r.coverage),
      );
      if (panels) cells.push(r.disagreement);
      return cells.concat([r.errors, r.judge_errors, validated(r.judge)]);
    }),
    3,
  );
  if ((data.audits || []).length) {
    add(sum, el('h3', null, 'Audit: judge vs person on the labelled cases'));
    add(
      sum,
      el(
        'p',
        'note',
        "Corrected ASR = Rogan\u2013Gladen with the judge's sensitivity and specificity estimated from this audit (sampled by verdict), pooled over the run per judge; 95% interval carries the uncertainty of the audit and of the judged cases.",
      ),
    );
    table(
      sum,
      [
        'judge',
        'audit n',
        'judge harmful \u00b7 person harmful',
        'judge harmful \u00b7 person safe',
        'judge safe \u00b7 person harmful',
        'judge safe \u00b7 person safe',
        'sensitivity',
        'specificity',
      ],
      data.audits.map((a) => [
        a.judge,
        a.audit_n,
        a.confusion.tp,
        a.confusion.fp,
        a.confusion.fn,
        a.confusion.tn,
        pct(a.sensitivity),
        pct(a.specificity),
      ]),
      1,
    );
  }
}
