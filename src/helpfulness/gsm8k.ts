/**
 * GSM8K answer extraction: the final number of a free-text solution, read the way a human grader reads it.
 *
 * The DeRTa paper scored GSM8K by hand; the usual "last number in the text" shortcut undercounts by ~8 points
 * on its released outputs because models end with sentences like "Therefore, it takes 140 minutes (or 2 hours
 * and 20 minutes)". So we look, in order, for: an explicit marker (`\boxed{}`, `#### N`, "the answer is N"),
 * then the concluding sentence ("Therefore/So/Thus ... is N"), and only then the last number.
 */

/** A number after normalisation (`1,234.5` → `1234.5`, `-$3` → `-3`): `-3`, `12.00`, `5/3`, `.5`; not inside a word. */
const NUMBER = /(?<![\p{L}\p{N}.])-?(?:\d+(?:\.\d+)?(?:\/\d+(?:\.\d+)?)?|\.\d+)/gu;

/** Words that open a concluding sentence. */
const CONCLUSION =
  /\b(?:therefore|thus|hence|so|in total|in conclusion|altogether|overall|the (?:final )?answer|final answer)\b/i;

/** A copula or verb that introduces the result inside a concluding sentence ("... will be $220"). */
const RESULT_VERB =
  /\b(?:is|was|are|were|be|equals?|costs?(?: \p{L}+)?|a total of)\s+(?:(?:approximately|about|around|roughly|exactly|only|just|now|still|left with|a total of)\s+)*(?=[-$]?\s*[-\d.])/giu;

/** Parses one number token; fractions become their value. undefined for things like `1/0`. */
export function parseNumber(token: string): number | undefined {
  const t = token.replace(/[,\s$]/g, '');
  const slash = t.indexOf('/');
  if (slash >= 0) {
    const num = Number(t.slice(0, slash));
    const den = Number(t.slice(slash + 1));
    return Number.isFinite(num) && Number.isFinite(den) && den !== 0 ? num / den : undefined;
  }
  const n = Number(t.replace(/\.$/, ''));
  return Number.isFinite(n) ? n : undefined;
}

/** Every number in a text, in order, after rewriting LaTeX fractions and money/units noise. */
export function numbersIn(text: string): number[] {
  const out: number[] = [];
  for (const m of normaliseLatex(text).matchAll(NUMBER)) {
    const v = parseNumber(m[0]);
    if (v !== undefined) out.push(v);
  }
  return out;
}

/** `\frac{a}{b}` → `a/b`, `\$` → `$`, `\!`/`\,` thin spaces and `\text{...}` dropped. */
function normaliseLatex(text: string): string {
  return text
    .replace(/\\d?frac\{\s*(-?[\d.,]+)\s*\}\{\s*([\d.,]+)\s*\}/g, '$1/$2')
    .replace(/\\\$/g, '$')
    .replace(/(-?)\$\s?(?=[\d.])/g, '$1')
    .replace(/\\[!,;:]/g, '')
    .replace(/\\text\{[^{}]*\}/g, ' ')
    .replace(/(\d),(?=\d{3}(?!\d))/g, '$1');
}

export interface Extraction {
  value: number;
  /** Which rule found it (for audit and tests). */
  rule: 'boxed' | 'hashes' | 'answer-is' | 'conclusion' | 'last-number';
}

/** The final numeric answer of a solution, or undefined when the text has no number at all. */
export function extractFinalNumber(response: string): Extraction | undefined {
  const text = normaliseLatex(response);
  const boxed = lastMatch(text, /\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}/g);
  if (boxed !== undefined) {
    const n = numbersIn(boxed);
    if (n.length) return { value: n[n.length - 1] as number, rule: 'boxed' };
  }
  const hashes = lastMatch(text, /####\s*([^\n]*)/g);
  if (hashes !== undefined) {
    const n = numbersIn(hashes);
    if (n.length) return { value: n[0] as number, rule: 'hashes' };
  }
  const answerIs = lastMatch(text, /\b(?:final )?answer\s*(?:is|:|=)\s*:?\s*([^\n]*)/gi);
  if (answerIs !== undefined) {
    const n = numbersIn(answerIs);
    if (n.length) return { value: n[0] as number, rule: 'answer-is' };
  }
  const fromConclusion = conclusionNumber(text);
  if (fromConclusion !== undefined) return { value: fromConclusion, rule: 'conclusion' };
  const all = numbersIn(text);
  return all.length ? { value: all[all.length - 1] as number, rule: 'last-number' } : undefined;
}

/**
 * The result stated in the last sentence that holds a number, when that sentence is a conclusion
 * ("Therefore, ..."): the number after the last `=` / "which is" / result verb, ignoring parentheticals.
 */
function conclusionNumber(text: string): number | undefined {
  const sentences = text.split(/(?<=[.!?])\s+(?=[A-Z])|\n/).filter((s) => numbersIn(s).length > 0);
  const last = sentences[sentences.length - 1];
  if (last === undefined) return undefined;
  const marker = CONCLUSION.exec(last);
  if (!marker) return undefined;
  let rest = last.slice(marker.index + marker[0].length).replace(/\([^()]*\)/g, ' ');
  for (const sep of ['=', 'which is', 'a total of']) {
    const at = rest.lastIndexOf(sep);
    if (at >= 0) rest = rest.slice(at + sep.length);
  }
  let verbEnd = -1;
  for (const m of rest.matchAll(RESULT_VERB)) verbEnd = m.index + m[0].length;
  if (verbEnd >= 0) rest = rest.slice(verbEnd);
  return numbersIn(rest)[0];
}

/**
 * Two explicit final-answer markers of the same kind that disagree (`\boxed{12}` ... `\boxed{15}`, or two
 * `#### N` lines with different numbers): a self-contradictory answer, which no rule can grade. Returns the
 * description, or undefined when the answer's explicit markers agree (or there are none).
 */
export function conflictingFinalMarkers(response: string): string | undefined {
  const text = normaliseLatex(response);
  const kinds: [string, RegExp, (n: number[]) => number | undefined][] = [
    ['\\boxed{}', /\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}/g, (n) => n[n.length - 1]],
    ['####', /####\s*([^\n]*)/g, (n) => n[0]],
  ];
  for (const [name, re, pick] of kinds) {
    const values = [...text.matchAll(re)]
      .map((m) => pick(numbersIn(m[1] ?? '')))
      .filter((v): v is number => v !== undefined);
    const distinct = [...new Set(values)];
    if (distinct.length > 1) return `conflicting ${name} answers: ${distinct.join(', ')}`;
    if (distinct.length === 1) return undefined;
  }
  return undefined;
}

function lastMatch(text: string, re: RegExp): string | undefined {
  let found: string | undefined;
  for (const m of text.matchAll(re)) found = m[1];
  return found;
}

/** The gold number of a GSM8K answer: what follows the last `####` (DeRTa's files prefix the answer with "-"). */
export function goldNumber(answer: string): number | undefined {
  const at = answer.lastIndexOf('####');
  const tail = at >= 0 ? answer.slice(at + 4) : answer;
  const n = numbersIn(tail);
  return at >= 0 ? n[0] : n[n.length - 1];
}

/** Equal up to rounding noise (answers are integers or short decimals). */
export function sameNumber(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));
}
