/**
 * MMLU answer extraction: which option letter a free-text answer chose.
 *
 * DeRTa's MMLU questions list options as `-(A) text` lines and models answer "The correct option is (C) ...".
 * In order we look for: an explicit statement ("answer is (B)", "Answer: B"), the first parenthesised letter
 * `(X)`, a bare letter opening the answer ("B." / "B)" / just "B"), and finally the one option whose text the
 * answer quotes. Letters are limited to the options the question offers (A–D when it lists none).
 */

export interface OptionExtraction {
  letter: string;
  rule: 'stated' | 'parenthesised' | 'leading-letter' | 'option-text';
}

/** The options of a question in DeRTa's layout: `-(A) text` (or `(A) text` / `A. text`) lines. */
export function optionsOf(question: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of question.matchAll(/^\s*-?\s*\(?([A-J])[).]\s*(.*)$/gm)) {
    const letter = m[1] as string;
    if (!out.has(letter)) out.set(letter, (m[2] ?? '').trim());
  }
  return out;
}

export function extractOption(response: string, question = ''): OptionExtraction | undefined {
  const options = optionsOf(question);
  const letters = options.size >= 2 ? [...options.keys()].join('') : 'ABCD';
  const L = `[${letters}]`;
  const stated = new RegExp(
    String.raw`\b(?:answer|option|choice)\s*(?:is|would be|:)\s*:?\s*(?:option\s*)?\(?(${L})\)?(?![\p{L}\p{N}])`,
    'iu',
  ).exec(response);
  if (stated && /[A-Z]/.test(stated[1] as string)) return { letter: stated[1] as string, rule: 'stated' };
  const paren = new RegExp(String.raw`\((${L})\)`).exec(response);
  if (paren) return { letter: paren[1] as string, rule: 'parenthesised' };
  const leading = new RegExp(String.raw`^\s*(${L})(?:[.):,]|\s*$|\s)`).exec(response);
  if (leading) return { letter: leading[1] as string, rule: 'leading-letter' };
  const lower = response.toLowerCase();
  const quoted = [...options].filter(([, text]) => text.length > 0 && lower.includes(text.toLowerCase()));
  if (quoted.length === 1) return { letter: (quoted[0] as [string, string])[0], rule: 'option-text' };
  return undefined;
}

/**
 * Two explicit statements of different options ("the answer is (A)" ... "the answer is (C)"): a
 * self-contradictory answer, which no rule can grade. Returns the description, or undefined.
 */
export function conflictingStatedOptions(response: string, question = ''): string | undefined {
  const options = optionsOf(question);
  const letters = options.size >= 2 ? [...options.keys()].join('') : 'ABCD';
  const re = new RegExp(
    String.raw`\b(?:answer|option|choice)\s*(?:is|would be|:)\s*:?\s*(?:option\s*)?\(?([${letters}])\)?(?![\p{L}\p{N}])`,
    'giu',
  );
  const stated = [...new Set([...response.matchAll(re)].map((m) => m[1] as string))].filter((l) =>
    /[A-Z]/.test(l),
  );
  return stated.length > 1 ? `conflicting stated answers: ${stated.join(', ')}` : undefined;
}

/** The gold letter of a DeRTa MMLU record: `C`, or `-C` in the fine-tuned result files. */
export function goldLetter(answer: string): string | undefined {
  return /[A-J]/.exec(answer.trim())?.[0];
}
