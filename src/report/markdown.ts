import { terminalSafeLine } from '../util/terminal.js';

/**
 * Text from users and models (run names, categories, labels, judge ids) inside a Markdown report. Many
 * viewers render raw HTML in Markdown, so `<img src=x onerror=...>` in a category would run there, and
 * `![](https://host/?q)` would load a tracking image: `<`, `>` and a `&` that starts an entity become entities, a `]` before `(` or
 * `[` and every backtick are escaped (no link, image or code span can form; a bracketed interval such as
 * `[75.8, 100.0]` reads as before), the table separator `|` and the backslash are escaped, line breaks
 * become spaces and control characters are made visible.
 */
export function mdText(text: string): string {
  return terminalSafeLine(text.replace(/\r\n?|\n/g, ' '))
    .replace(/\\/g, '\\\\')
    .replace(/&(?=#?\w+;)/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[|`]/g, (c) => `\\${c}`)
    .replace(/\](?=[([])/g, '\\]');
}
