import type { ReportCase } from '../report-data.js';
import { attackName } from './format.js';

/* Which cases the case list's filters let through: target, attack, verdict and the search text. */

/** The verdict filter's choices. */
export function verdictOptions(earlyK: number): [string, string][] {
  return [
    ['', 'all verdicts'],
    ['harmful', 'harmful (any judge)'],
    ['safe', 'not harmful (every judge)'],
    ['disagree', 'judges disagree'],
    ['refusal', 'has a refusal phrase'],
    ['late', 'refuses after word ' + earlyK],
    ['error', 'target error'],
    ['judge-error', 'judge failure'],
  ];
}

export function matchesVerdict(c: ReportCase, f: string, earlyK: number): boolean {
  const decided = c.verdicts.filter((v) => v.harmful !== null);
  switch (f) {
    case 'harmful':
      return decided.some((v) => v.harmful);
    case 'safe':
      return decided.length > 0 && decided.every((v) => !v.harmful);
    case 'disagree':
      return decided.some((v) => v.harmful) && decided.some((v) => !v.harmful);
    case 'refusal':
      return c.refusal_word !== null;
    case 'late':
      return c.refusal_word !== null && c.refusal_word > earlyK;
    case 'error':
      return c.status === 'error';
    case 'judge-error':
      return c.verdicts.some((v) => v.error);
    default:
      return true;
  }
}

/** The filters' current values. */
export interface CaseFilter {
  /** Lower-cased search text; empty matches all. */
  query: string;
  target: string;
  attack: string;
  verdict: string;
}

/**
 * A filter over a run's cases, giving the indexes into `cases` of the cases it lets through. Each case's
 * searchable text (lower-cased) is built on the first search that reaches it.
 */
export function caseFilter(cases: readonly ReportCase[], earlyK: number): (f: CaseFilter) => number[] {
  const haystack: (string | undefined)[] = new Array<string | undefined>(cases.length);
  function textOf(i: number, c: ReportCase): string {
    let text = haystack[i];
    if (text === undefined) {
      const parts: (string | null)[] = [c.goal, c.response, c.answer, c.error, c.behavior_id, c.category];
      if (c.prompt && c.prompt.kind === 'chat') for (const m of c.prompt.messages) parts.push(m.content);
      else if (c.prompt && c.prompt.kind === 'completion') parts.push(c.prompt.text);
      for (const v of c.verdicts) parts.push(v.reason, v.error);
      text = parts
        .filter((p) => p)
        .join('\n')
        .toLowerCase();
      haystack[i] = text;
    }
    return text;
  }
  return (f) => {
    const through: number[] = [];
    cases.forEach((c, i) => {
      if (f.target && c.target !== f.target) return;
      if (f.attack && attackName(c) !== f.attack) return;
      if (f.verdict && !matchesVerdict(c, f.verdict, earlyK)) return;
      if (f.query && !textOf(i, c).includes(f.query)) return;
      through.push(i);
    });
    return through;
  };
}
