import { PythonSyntaxError, evalStringLiteral } from './strings.js';

/**
 * A safe reader for Python literal displays, the subset `ast.literal_eval` accepts that data files use: str
 * literals (any prefix but bytes, both quote styles, triple quotes, escapes, implicit concatenation), ints and
 * floats (with sign, underscores, 0x/0o/0b), True/False/None, lists, tuples (read as arrays) and dicts with str
 * keys. Nothing is ever evaluated: any other name or expression is a syntax error with its line and column.
 * Some upstream files store structured values as `repr()` strings (CodeAttack's `data_ciphers.json` keeps a
 * chat message list in its `cipher` field); this turns them back into data.
 */

export type PyLiteral = string | number | boolean | null | PyLiteral[] | { [key: string]: PyLiteral };

/** A literal syntax problem with its 1-based line and column inside the parsed text. */
export class PythonLiteralError extends PythonSyntaxError {
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${reason} (line ${line}, column ${column} of the literal)`);
    this.name = 'PythonLiteralError';
  }
}

const NUMBER =
  /(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?)[jJ]?/y;
const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
const STRING_START = /([rRuUbBfF]{0,2})('''|"""|'|")/y;

/** Parses one Python literal; the whole text must be that literal (surrounding whitespace and comments allowed). */
export function parsePythonLiteral(text: string): PyLiteral {
  const p = new Parser(text);
  p.skipSpace();
  const value = p.value();
  p.skipSpace();
  if (!p.atEnd()) p.fail(`unexpected '${p.peek()}' after the literal`);
  return value;
}

class Parser {
  private pos = 0;

  constructor(private readonly src: string) {}

  atEnd(): boolean {
    return this.pos >= this.src.length;
  }

  peek(): string {
    return this.src[this.pos] ?? '';
  }

  fail(reason: string, at = this.pos): never {
    const before = this.src.slice(0, at);
    const line = before.split('\n').length;
    const column = at - (before.lastIndexOf('\n') + 1) + 1;
    throw new PythonLiteralError(reason, line, column);
  }

  /** Whitespace, newlines, backslash continuations and comments (all insignificant inside a display). */
  skipSpace(): void {
    for (;;) {
      const c = this.src[this.pos];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') this.pos++;
      else if (c === '\\' && this.src[this.pos + 1] === '\n') this.pos += 2;
      else if (c === '#') {
        while (this.pos < this.src.length && this.src[this.pos] !== '\n') this.pos++;
      } else return;
    }
  }

  value(): PyLiteral {
    const c = this.peek();
    if (c === '') this.fail('expected a literal, found the end of the text');
    if (c === '[') return this.sequence('[', ']');
    if (c === '(') return this.tuple();
    if (c === '{') return this.dict();
    if (c === '-' || c === '+') {
      this.pos++;
      this.skipSpace();
      const n = this.number();
      return c === '-' ? -n : n;
    }
    STRING_START.lastIndex = this.pos;
    if (STRING_START.test(this.src)) return this.strings();
    if ((c >= '0' && c <= '9') || (c === '.' && /\d/.test(this.src[this.pos + 1] ?? '')))
      return this.number();
    NAME.lastIndex = this.pos;
    const name = NAME.exec(this.src)?.[0];
    if (name !== undefined) {
      if (name === 'True' || name === 'False' || name === 'None') {
        this.pos += name.length;
        return name === 'True' ? true : name === 'False' ? false : null;
      }
      this.fail(`'${name}' is not a literal (only str, numbers, True/False/None, lists, tuples, dicts)`);
    }
    this.fail(`unexpected '${c}'`);
  }

  /** One or more adjacent string literals, concatenated as Python does. */
  private strings(): string {
    let out = '';
    for (;;) {
      STRING_START.lastIndex = this.pos;
      const m = STRING_START.exec(this.src);
      if (!m) return out;
      const start = this.pos;
      const quote = m[2] as string;
      let i = start + m[0].length;
      for (;;) {
        if (i >= this.src.length) this.fail('unterminated string literal', start);
        const ch = this.src[i];
        if (ch === '\\') i += 2;
        else if (this.src.startsWith(quote, i)) break;
        else if (ch === '\n' && quote.length === 1) this.fail('unterminated string literal', start);
        else i++;
      }
      const end = i + quote.length;
      try {
        out += evalStringLiteral(this.src.slice(start, end));
      } catch (err) {
        if (err instanceof PythonSyntaxError) this.fail(err.message, start);
        throw err;
      }
      this.pos = end;
      this.skipSpace();
    }
  }

  number(): number {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.src);
    if (!m) this.fail('expected a number');
    const raw = m[0].replace(/_/g, '');
    if (/[jJ]$/.test(raw)) this.fail('complex numbers are not supported');
    const isInt = /^(0[xXoObB]|\d+$)/.test(raw);
    const value = isInt
      ? /^0[oO]/.test(raw)
        ? parseInt(raw.slice(2), 8)
        : /^0[bB]/.test(raw)
          ? parseInt(raw.slice(2), 2)
          : Number(raw)
      : Number(raw);
    if (isInt && /^0\d/.test(raw) && /[1-9]/.test(raw)) this.fail('leading zeros in an int are not allowed');
    if (isInt && !Number.isSafeInteger(value)) this.fail(`integer ${raw} is too large`);
    this.pos += m[0].length;
    return value;
  }

  /** `[a, b, ...]` with an optional trailing comma. */
  private sequence(open: string, close: string): PyLiteral[] {
    const items: PyLiteral[] = [];
    this.expect(open);
    this.skipSpace();
    while (this.peek() !== close) {
      items.push(this.value());
      this.skipSpace();
      if (this.peek() === ',') {
        this.pos++;
        this.skipSpace();
      } else if (this.peek() !== close) this.fail(`expected ',' or '${close}'`);
    }
    this.pos++;
    return items;
  }

  /** `(x)` is x; `()`, `(x,)` and `(x, y)` are tuples, read as arrays. */
  private tuple(): PyLiteral {
    const start = this.pos;
    this.expect('(');
    this.skipSpace();
    if (this.peek() === ')') {
      this.pos++;
      return [];
    }
    const first = this.value();
    this.skipSpace();
    if (this.peek() === ')') {
      this.pos++;
      return first;
    }
    this.pos = start;
    return this.sequence('(', ')');
  }

  private dict(): { [key: string]: PyLiteral } {
    // A null prototype: keys such as `__proto__` are data, not object machinery.
    const out = Object.create(null) as { [key: string]: PyLiteral };
    this.expect('{');
    this.skipSpace();
    while (this.peek() !== '}') {
      const keyAt = this.pos;
      const key = this.value();
      if (typeof key !== 'string') this.fail('only str dict keys are supported', keyAt);
      this.skipSpace();
      if (this.peek() === ',' || this.peek() === '}') this.fail('sets are not supported', keyAt);
      this.expect(':');
      this.skipSpace();
      out[key] = this.value(); // a repeated key keeps its last value, as in Python
      this.skipSpace();
      if (this.peek() === ',') {
        this.pos++;
        this.skipSpace();
      } else if (this.peek() !== '}') this.fail("expected ',' or '}'");
    }
    this.pos++;
    return out;
  }

  private expect(ch: string): void {
    if (this.peek() !== ch) this.fail(`expected '${ch}'`);
    this.pos++;
  }
}
