/**
 * Python string literals, evaluated exactly as CPython 3.11 does: prefixes (r, u, f and their combinations),
 * single/double and triple quotes, backslash escapes, and f-string fields (`{{`/`}}`, `{expr!conv:spec}`,
 * `{expr=}`). Some paper artifacts (judge rubrics, attacker prompts) exist upstream only as string literals in
 * Python source; this is how the data-pack pull step turns them back into text without running Python.
 *
 * Not supported (a clear error, never a wrong answer): bytes literals, `\N{NAME}` escapes (they need the
 * Unicode name table) and f-string format specs beyond fill/align/width/precision for strings.
 */

export class PythonSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PythonSyntaxError';
  }
}

/** Evaluates the expression of one f-string field and returns its value's `str()`. */
export type FieldEvaluator = (expression: string) => string;

export interface LiteralParts {
  /** Lower-cased prefix letters, e.g. `rf`. */
  prefix: string;
  quote: string;
  body: string;
}

const VALID_PREFIXES = new Set(['', 'r', 'u', 'f', 'b', 'br', 'rb', 'fr', 'rf']);

/** Cuts a literal like `rf'''…'''` into prefix, quote and body (the text between the quotes). */
export function splitLiteral(raw: string): LiteralParts {
  const m = /^([A-Za-z]{0,2})('''|"""|'|")/.exec(raw);
  const prefix = m?.[1]?.toLowerCase();
  const quote = m?.[2];
  if (prefix === undefined || quote === undefined || !VALID_PREFIXES.has(prefix)) {
    throw new PythonSyntaxError(`not a string literal: ${raw.slice(0, 20)}`);
  }
  const start = m![0].length;
  if (raw.length < start + quote.length || !raw.endsWith(quote)) {
    throw new PythonSyntaxError('unterminated string literal');
  }
  return { prefix, quote, body: raw.slice(start, raw.length - quote.length) };
}

/**
 * The value of one string literal (prefix and quotes included). f-string fields are handed to `evalField`;
 * without one, an f-string with fields is an error.
 */
export function evalStringLiteral(raw: string, evalField?: FieldEvaluator): string {
  const { prefix, body } = splitLiteral(raw);
  if (prefix.includes('b')) throw new PythonSyntaxError('bytes literals are not supported');
  const isRaw = prefix.includes('r');
  if (prefix.includes('f')) return evalFStringBody(body, isRaw, evalField);
  return isRaw ? body : decodeEscapes(body);
}

/** Backslash escapes of a non-raw str literal. */
export function decodeEscapes(s: string): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const ch = s[i]!;
    if (ch !== '\\') {
      out += ch;
      i++;
      continue;
    }
    const esc = readEscape(s, i);
    out += esc.text;
    i = esc.end;
  }
  return out;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\n': '',
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

/** One escape sequence starting at `s[i] === '\\'`: its text and the index just past it. */
function readEscape(s: string, i: number): { text: string; end: number } {
  const next = s[i + 1];
  if (next === undefined) throw new PythonSyntaxError('string literal ends with a lone backslash');
  const simple = SIMPLE_ESCAPES[next];
  if (simple !== undefined) return { text: simple, end: i + 2 };
  if (next >= '0' && next <= '7') {
    const m = /^[0-7]{1,3}/.exec(s.slice(i + 1, i + 4))![0];
    return { text: String.fromCodePoint(parseInt(m, 8)), end: i + 1 + m.length };
  }
  const hexLen = next === 'x' ? 2 : next === 'u' ? 4 : next === 'U' ? 8 : 0;
  if (hexLen) {
    const hex = s.slice(i + 2, i + 2 + hexLen);
    if (!new RegExp(`^[0-9a-fA-F]{${hexLen}}$`).test(hex)) {
      throw new PythonSyntaxError(`truncated \\${next}${'X'.repeat(hexLen)} escape`);
    }
    const cp = parseInt(hex, 16);
    if (cp > 0x10ffff) throw new PythonSyntaxError(`illegal Unicode character \\U${hex}`);
    return { text: String.fromCodePoint(cp), end: i + 2 + hexLen };
  }
  if (next === 'N') throw new PythonSyntaxError('\\N{...} escapes are not supported');
  // An unknown escape keeps its backslash; the next character is read normally (it may open an f-string field).
  return { text: '\\', end: i + 1 };
}

/** The body of an f-string: literal text (escapes, `{{`, `}}`) and replacement fields. */
function evalFStringBody(body: string, isRaw: boolean, evalField: FieldEvaluator | undefined): string {
  let out = '';
  let i = 0;
  while (i < body.length) {
    const ch = body[i]!;
    if (ch === '\\' && !isRaw) {
      const esc = readEscape(body, i);
      out += esc.text;
      i = esc.end;
    } else if (ch === '{' && body[i + 1] === '{') {
      out += '{';
      i += 2;
    } else if (ch === '}') {
      if (body[i + 1] !== '}') throw new PythonSyntaxError("f-string: single '}' is not allowed");
      out += '}';
      i += 2;
    } else if (ch === '{') {
      const field = readField(body, i + 1);
      if (!evalField) throw new PythonSyntaxError('f-string field without an evaluator');
      out += renderField(field, evalField);
      i = field.end;
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

interface Field {
  expression: string;
  /** Text shown before the value for `{expr=}` (the expression, `=` and surrounding spaces). */
  debugText?: string;
  conversion?: 's' | 'r' | 'a';
  /** Format spec, still containing any nested `{…}` fields. */
  spec?: string;
  /** Index just past the closing `}`. */
  end: number;
}

/** Reads a replacement field whose expression starts at `start` (just after `{`). */
function readField(body: string, start: number): Field {
  let i = start;
  let depth = 0;
  let debugEnd = -1;
  for (; i < body.length; i++) {
    const ch = body[i]!;
    if (ch === '\\') throw new PythonSyntaxError('f-string expression part cannot include a backslash');
    if (ch === '#') throw new PythonSyntaxError("f-string expression part cannot include '#'");
    if (ch === "'" || ch === '"') {
      i = skipQuoted(body, i) - 1;
      continue;
    }
    if ('([{'.includes(ch)) depth++;
    else if (depth > 0 && ')]}'.includes(ch)) depth--;
    else if (depth === 0) {
      if (ch === '}' || ch === ':' || (ch === '!' && body[i + 1] !== '=')) break;
      if (ch === '=' && isDebugEquals(body, i)) {
        debugEnd = i + 1;
        while (body[debugEnd] === ' ') debugEnd++;
        i = debugEnd - 1;
        break;
      }
    }
  }
  if (debugEnd >= 0) i = debugEnd;
  const exprEnd = debugEnd >= 0 ? body.lastIndexOf('=', debugEnd - 1) : i;
  const expression = body.slice(start, exprEnd);
  if (!expression.trim()) throw new PythonSyntaxError('f-string: empty expression not allowed');
  const field: Field = { expression, end: i };
  if (debugEnd >= 0) field.debugText = body.slice(start, debugEnd);
  if (body[i] === '!') {
    const conv = body[i + 1];
    if (conv !== 's' && conv !== 'r' && conv !== 'a') {
      throw new PythonSyntaxError("f-string: invalid conversion character: expected 's', 'r', or 'a'");
    }
    field.conversion = conv;
    i += 2;
  }
  if (body[i] === ':') {
    const specStart = i + 1;
    let nest = 0;
    for (i = specStart; i < body.length; i++) {
      if (body[i] === '{') nest++;
      else if (body[i] === '}') {
        if (nest === 0) break;
        nest--;
      }
    }
    field.spec = body.slice(specStart, i);
  }
  if (body[i] !== '}') throw new PythonSyntaxError("f-string: expecting '}'");
  field.end = i + 1;
  return field;
}

/** `=` ends a self-documenting field when it is not part of `==`, `!=`, `<=`, `>=` or `:=`. */
function isDebugEquals(body: string, i: number): boolean {
  if (body[i + 1] === '=' || '=!<>:'.includes(body[i - 1] ?? '')) return false;
  let j = i + 1;
  while (body[j] === ' ') j++;
  return body[j] === '}' || body[j] === '!' || body[j] === ':';
}

/** Index just past the quoted string (single or triple) starting at `i`, inside an f-string expression. */
function skipQuoted(s: string, i: number): number {
  const q = s[i]!;
  const triple = s.startsWith(q.repeat(3), i);
  const close = triple ? q.repeat(3) : q;
  const end = s.indexOf(close, i + close.length);
  if (end < 0) throw new PythonSyntaxError('f-string: unterminated string');
  return end + close.length;
}

function renderField(field: Field, evalField: FieldEvaluator): string {
  const value = evalField(field.expression);
  // `{x=}` defaults to repr unless a conversion or format spec says otherwise, as in CPython.
  const conversion =
    field.conversion ?? (field.debugText !== undefined && field.spec === undefined ? 'r' : 's');
  let text = conversion === 'r' ? pyRepr(value) : conversion === 'a' ? pyAscii(value) : value;
  if (field.spec !== undefined) {
    const spec = evalFStringBody(field.spec, true, evalField);
    text = formatString(text, spec);
  }
  return (field.debugText ?? '') + text;
}

/** `format(s, spec)` for a str: `[[fill]align][width][.precision][s]`. */
export function formatString(s: string, spec: string): string {
  if (spec === '') return s;
  const m = /^(?:(.)?([<>^]))?(\d+)?(?:\.(\d+))?s?$/su.exec(spec);
  if (!m) throw new PythonSyntaxError(`unsupported format spec '${spec}' for a string`);
  const [, fill = ' ', align = '<', width, precision] = m;
  let chars = [...s];
  if (precision !== undefined) chars = chars.slice(0, Number(precision));
  const pad = Math.max(0, Number(width ?? 0) - chars.length);
  const body = chars.join('');
  if (align === '>') return fill.repeat(pad) + body;
  if (align === '^') return fill.repeat(Math.floor(pad / 2)) + body + fill.repeat(pad - Math.floor(pad / 2));
  return body + fill.repeat(pad);
}

// Python's str.isprintable(): false for "Other" and "Separator" categories, except the ASCII space.
const NON_PRINTABLE = /^[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]$/u;

/** Python's `repr()` of a str. */
export function pyRepr(s: string, asciiOnly = false): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const c of s) {
    const cp = c.codePointAt(0)!;
    if (c === quote || c === '\\') out += `\\${c}`;
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if ((NON_PRINTABLE.test(c) && c !== ' ') || (asciiOnly && cp > 0x7e)) out += hexEscape(cp);
    else out += c;
  }
  return out + quote;
}

/** Python's `ascii()` of a str. */
export function pyAscii(s: string): string {
  return pyRepr(s, true);
}

function hexEscape(cp: number): string {
  if (cp < 0x100) return `\\x${cp.toString(16).padStart(2, '0')}`;
  if (cp < 0x10000) return `\\u${cp.toString(16).padStart(4, '0')}`;
  return `\\U${cp.toString(16).padStart(8, '0')}`;
}
