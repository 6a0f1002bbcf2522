import { pyReprStr, pySplit } from '../../util/python.js';

/**
 * CodeChameleon's four encryptions (upstream `encrypt.py`), with what the prompt shows of each: the
 * encrypted goal as Python's `str()` prints it. `reverse` and `odd_even` give a str (shown as is);
 * `binary_tree` gives nested dicts `{'value': word, 'left': ..., 'right': ...}` (None for an empty subtree) and
 * `length` a list of one-entry dicts `{word: index}`, shown as Python's `repr` of them, byte for byte.
 */

export const ENCRYPTIONS = ['reverse', 'binary_tree', 'odd_even', 'length', 'none'] as const;
export type Encryption = (typeof ENCRYPTIONS)[number];

/** A Python value an encryption returns: a str, None, an int, a list or an insertion-ordered dict. */
export type PyValue = string | number | null | PyValue[] | PyDict;
export interface PyDict {
  readonly dict: readonly (readonly [string, PyValue])[];
}

/** Python's `str(value)`: a str as is, everything else its repr (containers show their items' repr). */
export function pyStrValue(v: PyValue): string {
  return typeof v === 'string' ? v : pyReprValue(v);
}

export function pyReprValue(v: PyValue): string {
  if (v === null) return 'None';
  if (typeof v === 'string') return pyReprStr(v);
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `[${v.map(pyReprValue).join(', ')}]`;
  return `{${v.dict.map(([k, x]) => `${pyReprStr(k)}: ${pyReprValue(x)}`).join(', ')}}`;
}

/** `' '.join(sentence.split(' ')[::-1])`: only single spaces split, so runs of spaces keep empty words. */
function reverse(sentence: string): string {
  return sentence.split(' ').reverse().join(' ');
}

/** The words (`split()`) in a balanced binary tree, the middle word at the root (`(start + end) // 2`). */
function binaryTree(sentence: string): PyValue {
  const words = pySplit(sentence);
  const build = (start: number, end: number): PyValue => {
    if (start > end) return null;
    const mid = Math.floor((start + end) / 2);
    return {
      dict: [
        ['value', words[mid] as string],
        ['left', build(start, mid - 1)],
        ['right', build(mid + 1, end)],
      ],
    };
  };
  return build(0, words.length - 1);
}

/** The words at even positions (0, 2, ...), then those at odd positions, joined by spaces. */
function oddEven(sentence: string): string {
  const words = pySplit(sentence);
  return [...words.filter((_, i) => i % 2 === 0), ...words.filter((_, i) => i % 2 === 1)].join(' ');
}

/** `[{word: index}, ...]` sorted by word length in code points (a stable sort, as Python's). */
function length(sentence: string): PyValue {
  const words = pySplit(sentence).map((word, index) => ({ word, index, len: [...word].length }));
  words.sort((a, b) => a.len - b.len);
  return words.map((w) => ({ dict: [[w.word, w.index]] as const }));
}

/** Upstream's `get_encrypted_query(sentence, rule)`. */
export function encrypt(sentence: string, rule: Encryption): PyValue {
  switch (rule) {
    case 'reverse':
      return reverse(sentence);
    case 'binary_tree':
      return binaryTree(sentence);
    case 'odd_even':
      return oddEven(sentence);
    case 'length':
      return length(sentence);
    case 'none':
      return sentence;
  }
}
