import { PythonSyntaxError } from './strings.js';

/**
 * A tokenizer for Python source, enough to find definitions and read the expressions that build strings:
 * names, numbers, string literals (kept raw; evaluated later, since f-strings need a scope), operators,
 * NEWLINE/INDENT/DEDENT with implicit line joining inside brackets, backslash continuations and comments.
 * f-strings are lexed as in CPython 3.11 (a field cannot contain the enclosing quote).
 */

export type TokenType = 'name' | 'number' | 'string' | 'op' | 'newline' | 'indent' | 'dedent' | 'eof';

export interface Token {
  type: TokenType;
  value: string;
  /** 1-based line where the token starts. */
  line: number;
}

const OPERATORS = [
  '**=', '//=', '>>=', '<<=', '...', '->', ':=', '**', '//', '<<', '>>', '<=', '>=', '==', '!=',
  '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '@=',
  '(', ')', '[', ']', '{', '}', ',', ':', ';', '.', '+', '-', '*', '/', '%', '&', '|', '^', '~', '<', '>', '=', '@', '!',
]; // prettier-ignore

const STRING_PREFIXES = new Set(['r', 'u', 'f', 'b', 'br', 'rb', 'fr', 'rf']);
const NAME = /[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*/uy;
const NUMBER =
  /(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?[jJ]?)/y;

export class LexError extends PythonSyntaxError {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

export function tokenize(source: string): Token[] {
  // Python reads source with universal newlines, so CRLF and CR never reach string literals.
  const src = source.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const tokens: Token[] = [];
  const indents = [0];
  let pos = 0;
  let line = 1;
  let depth = 0;
  let atLineStart = true;

  const push = (type: TokenType, value: string, at = line): void => {
    tokens.push({ type, value, line: at });
  };

  while (pos < src.length) {
    if (atLineStart && depth === 0) {
      let width = 0;
      while (pos < src.length && ' \t\f'.includes(src[pos]!)) {
        const c = src[pos++]!;
        width = c === '\t' ? (Math.floor(width / 8) + 1) * 8 : c === '\f' ? 0 : width + 1;
      }
      const c = src[pos];
      if (c === undefined) break;
      if (c === '\n' || c === '#') {
        // Blank and comment-only lines do not count for indentation.
        while (pos < src.length && src[pos] !== '\n') pos++;
        pos++;
        line++;
        continue;
      }
      atLineStart = false;
      if (width > indents[indents.length - 1]!) {
        indents.push(width);
        push('indent', '');
      } else {
        while (width < indents[indents.length - 1]!) {
          indents.pop();
          push('dedent', '');
        }
        if (width !== indents[indents.length - 1]) {
          throw new LexError('unindent does not match any outer indentation level', line);
        }
      }
    }
    const c = src[pos]!;
    if (c === '\n') {
      if (depth === 0) {
        push('newline', '');
        atLineStart = true;
      }
      pos++;
      line++;
    } else if (c === ' ' || c === '\t' || c === '\f') {
      pos++;
    } else if (c === '#') {
      while (pos < src.length && src[pos] !== '\n') pos++;
    } else if (c === '\\') {
      if (src[pos + 1] !== '\n') throw new LexError('unexpected character after line continuation', line);
      pos += 2;
      line++;
    } else if (c === '"' || c === "'") {
      pos = readString(pos, pos);
    } else if (/[\d.]/.test(c) && (c !== '.' || /\d/.test(src[pos + 1] ?? ''))) {
      NUMBER.lastIndex = pos;
      const m = NUMBER.exec(src)!;
      push('number', m[0]);
      pos += m[0].length;
    } else {
      NAME.lastIndex = pos;
      const name = NAME.exec(src)?.[0];
      if (name) {
        const next = src[pos + name.length];
        if ((next === '"' || next === "'") && STRING_PREFIXES.has(name.toLowerCase())) {
          pos = readString(pos, pos + name.length);
        } else {
          push('name', name);
          pos += name.length;
        }
        continue;
      }
      const op = OPERATORS.find((o) => src.startsWith(o, pos));
      if (!op) throw new LexError(`unexpected character ${JSON.stringify(c)}`, line);
      if ('([{'.includes(op)) depth++;
      else if (')]}'.includes(op)) depth = Math.max(0, depth - 1);
      push('op', op);
      pos += op.length;
    }
  }
  if (tokens.length && tokens[tokens.length - 1]!.type !== 'newline') push('newline', '');
  while (indents.length > 1) {
    indents.pop();
    push('dedent', '');
  }
  push('eof', '');
  return tokens;

  /** Reads a string literal whose prefix starts at `start` and opening quote is at `quoteAt`. */
  function readString(start: number, quoteAt: number): number {
    const q = src[quoteAt]!;
    const triple = src.startsWith(q.repeat(3), quoteAt);
    const close = triple ? q.repeat(3) : q;
    const startLine = line;
    let i = quoteAt + close.length;
    for (;;) {
      if (i >= src.length) throw new LexError('unterminated string literal', startLine);
      const ch = src[i]!;
      if (ch === '\\') {
        if (src[i + 1] === '\n') line++;
        i += 2;
        continue;
      }
      if (ch === '\n') {
        if (!triple) throw new LexError('unterminated string literal', startLine);
        line++;
      }
      if (src.startsWith(close, i)) break;
      i++;
    }
    const end = i + close.length;
    push('string', src.slice(start, end), startLine);
    return end;
  }
}
