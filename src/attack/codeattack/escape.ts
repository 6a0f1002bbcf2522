/**
 * String literals for the project's own CodeAttack templates: any goal text (quotes, backslashes, newlines,
 * control characters, non-ASCII, emoji) becomes a literal that compiles and means exactly that text.
 * Printable non-ASCII stays as written (all generated sources are UTF-8); characters that are invisible or
 * break lexers — C0/C1 controls, DEL, line/paragraph separators, BOM, bidirectional controls (Rust rejects
 * those in literals; they also enable "Trojan Source" tricks) — are escaped.
 */

export type Language = 'python' | 'cpp' | 'go' | 'javascript' | 'typescript' | 'rust' | 'java';

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const SPECIAL = /[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff"\\]/gu;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const SHORT: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** How each language spells a special character inside a double-quoted literal. */
const ESCAPE: Record<Language, (ch: string, cp: number) => string> = {
  python: (ch, cp) => SHORT[ch] ?? (cp < 0x100 ? `\\x${hex(cp, 2)}` : `\\u${hex(cp, 4)}`),
  javascript: (ch, cp) => SHORT[ch] ?? `\\u${hex(cp, 4)}`,
  typescript: (ch, cp) => SHORT[ch] ?? `\\u${hex(cp, 4)}`,
  // Go's \x is exactly two hex digits; \u needs four.
  go: (ch, cp) => SHORT[ch] ?? (cp < 0x80 ? `\\x${hex(cp, 2)}` : `\\u${hex(cp, 4)}`),
  rust: (ch, cp) => SHORT[ch] ?? `\\u{${hex(cp, 2)}}`,
  // Java turns \uXXXX into the character before lexing, so a \u000a would end the literal: C0 use octal.
  java: (ch, cp) => SHORT[ch] ?? (cp < 0x20 ? `\\${cp.toString(8).padStart(3, '0')}` : `\\u${hex(cp, 4)}`),
  // C++ hex escapes are greedy and UCNs may not name controls: write the UTF-8 bytes as 3-digit octal.
  cpp: (ch) =>
    SHORT[ch] ?? Array.from(Buffer.from(ch, 'utf8'), (b) => `\\${b.toString(8).padStart(3, '0')}`).join(''),
};

/** A double-quoted string literal of `text` in `language`. */
export function stringLiteral(language: Language, text: string): string {
  const escape = ESCAPE[language];
  const body = text
    .replace(LONE_SURROGATE, '\ufffd')
    .replace(SPECIAL, (ch) => escape(ch, ch.codePointAt(0) as number));
  // C++ compilers may still replace trigraphs (`??=` is `#`) before escapes: break every `??` apart.
  return `"${language === 'cpp' ? body.replace(/\?(?=\?)/g, '?\\') : body}"`;
}
