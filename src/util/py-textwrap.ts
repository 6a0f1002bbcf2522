import { pyStrip } from './python.js';

/**
 * Python's `textwrap.TextWrapper(width=w, break_long_words=False, break_on_hyphens=False).wrap(text)` (the
 * other settings at their defaults), line for line: tabs expanded to 8 columns, each ASCII whitespace
 * character made a space, the text cut into runs of words and of whitespace, lines filled greedily to `width`
 * code points, whitespace dropped at line ends and starts, and a word longer than `width` put on a line of
 * its own unbroken. A width below 1 is Python's ValueError.
 */

/** `textwrap`'s whitespace: only these six characters are turned into spaces and split on. */
const TW_WHITESPACE = /[\t\n\v\f\r ]/g;
const TW_CHUNKS = /([\t\n\v\f\r ]+)/;

export function textwrapWrap(text: string, width: number): string[] {
  if (width <= 0) throw new Error(`invalid width ${width} (must be > 0)`);
  const munged = expandTabs(text).replace(TW_WHITESPACE, ' ');
  const chunks = munged.split(TW_CHUNKS).filter((c) => c !== '');
  const len = (s: string): number => [...s].length;
  const blank = (s: string): boolean => pyStrip(s) === '';
  chunks.reverse();
  const lines: string[] = [];
  while (chunks.length) {
    const line: string[] = [];
    let used = 0;
    if (blank(chunks[chunks.length - 1]!) && lines.length) chunks.pop();
    while (chunks.length) {
      const l = len(chunks[chunks.length - 1]!);
      if (used + l > width) break;
      line.push(chunks.pop()!);
      used += l;
    }
    // break_long_words=False: an over-long word goes whole onto a line of its own.
    if (chunks.length && len(chunks[chunks.length - 1]!) > width && !line.length) line.push(chunks.pop()!);
    if (line.length && blank(line[line.length - 1]!)) line.pop();
    if (line.length) lines.push(line.join(''));
  }
  return lines;
}

/** Python's `str.expandtabs(8)`: the column restarts after `\n` and `\r`, one column per code point. */
function expandTabs(s: string, tabsize = 8): string {
  if (!s.includes('\t')) return s;
  let out = '';
  let col = 0;
  for (const c of s) {
    if (c === '\t') {
      const n = tabsize - (col % tabsize);
      out += ' '.repeat(n);
      col += n;
    } else {
      out += c;
      col = c === '\n' || c === '\r' ? 0 : col + 1;
    }
  }
  return out;
}
