import { conflictingFinalMarkers, extractFinalNumber, goldNumber, sameNumber } from './gsm8k.js';
import { conflictingStatedOptions, extractOption, goldLetter } from './mmlu.js';

/** Tasks with a gold answer that a rule can check (no model needed). */
export const GRADED_TASKS = ['gsm8k', 'mmlu'] as const;
export type GradedTask = (typeof GRADED_TASKS)[number];

export interface Grade {
  correct: boolean;
  /** What was read from the response (a number or a letter), null when nothing was found. */
  predicted: string | null;
  gold: string | null;
  rule: string | null;
  /** Set when the gold answer itself is unreadable: such a record cannot be graded. */
  error?: string;
  /**
   * Set when the answer states two different final answers: it cannot be graded either way and is counted
   * apart (an answer with no final answer at all is wrong, as the benchmarks score it).
   */
  inconclusive?: string;
}

/** Grades one answer against its gold answer. */
export function grade(task: GradedTask, response: string, gold: string, question = ''): Grade {
  if (task === 'gsm8k') {
    const g = goldNumber(gold);
    if (g === undefined)
      return { correct: false, predicted: null, gold: null, rule: null, error: 'no gold number' };
    const conflict = conflictingFinalMarkers(response);
    if (conflict)
      return { correct: false, predicted: null, gold: String(g), rule: null, inconclusive: conflict };
    const x = extractFinalNumber(response);
    return {
      correct: x !== undefined && sameNumber(x.value, g),
      predicted: x ? String(x.value) : null,
      gold: String(g),
      rule: x?.rule ?? null,
    };
  }
  const g = goldLetter(gold);
  if (g === undefined)
    return { correct: false, predicted: null, gold: null, rule: null, error: 'no gold letter' };
  const conflict = conflictingStatedOptions(response, question);
  if (conflict) return { correct: false, predicted: null, gold: g, rule: null, inconclusive: conflict };
  const x = extractOption(response, question);
  return { correct: x?.letter === g, predicted: x?.letter ?? null, gold: g, rule: x?.rule ?? null };
}

export interface Accuracy {
  n: number;
  correct: number;
  /** Answers stating two different final answers: not graded, counted apart from n. */
  inconclusive: number;
  /** Percent, 0–100 (as DeRTa's Table 2 reports it). */
  accuracy: number;
}

/** Accuracy in percent of a list of grades; records whose gold is unreadable, and inconclusive answers, are not counted. */
export function accuracyOf(grades: readonly Grade[]): Accuracy {
  const graded = grades.filter((g) => g.error === undefined && g.inconclusive === undefined);
  const correct = graded.filter((g) => g.correct).length;
  const n = graded.length;
  const inconclusive = grades.filter((g) => g.error === undefined && g.inconclusive !== undefined).length;
  return { n, correct, inconclusive, accuracy: n ? round((100 * correct) / n) : 0 };
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
