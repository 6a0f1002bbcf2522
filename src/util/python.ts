/**
 * Python string semantics that ports of Python research code must reproduce exactly: which characters are
 * whitespace, `str.split()`, `str.strip()`, `repr(str)`, `json.dumps(str)` (ensure_ascii), and placeholder
 * substitution that cannot be hijacked by `$&`-style patterns in the inserted text.
 */

/**
 * The characters Python's `str.isspace()`, `str.split()` and `re`'s `\s` treat as whitespace. It differs from
 * JavaScript's `\s`: Python adds U+001C–U+001F and U+0085 and leaves out U+FEFF.
 */
export const PY_WS_CLASS =
  '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

const WS_RUN = new RegExp(`[${PY_WS_CLASS}]+`, 'u');
const WS_ONLY = new RegExp(`^[${PY_WS_CLASS}]*$`, 'u');
const LEADING_WS = new RegExp(`^[${PY_WS_CLASS}]+`, 'u');
const TRAILING_WS = new RegExp(`[${PY_WS_CLASS}]+$`, 'u');

/** Python `str.split()` with no argument: split on runs of whitespace, dropping empty tokens. */
export function pySplit(s: string): string[] {
  if (WS_ONLY.test(s)) return [];
  return s.split(WS_RUN).filter((w) => w !== '');
}

/** Python `str.strip()` with no argument. */
export function pyStrip(s: string): string {
  return s.replace(LEADING_WS, '').replace(TRAILING_WS, '');
}

/** Python `re.split(pattern, s)` for a pattern without groups: keeps empty strings at either end. */
export function pyReSplit(s: string, pattern: RegExp): string[] {
  // JS String.split with a regex has the same semantics as re.split for group-free patterns that cannot
  // match the empty string (both keep leading/trailing empty pieces).
  return s.split(pattern);
}

/**
 * Replaces every occurrence of `placeholder` in `template` by `value`, literally. Unlike
 * `String.prototype.replace(string, string)`, `$&`, `$1`, `$$` in `value` are inserted as written.
 */
export function substitute(template: string, placeholder: string, value: string): string {
  return template.split(placeholder).join(value);
}

/** Python's `str.isprintable()` for one code point: not in categories C* (other) or Z* (separators) but space. */
const NON_PRINTABLE = /[\p{C}\p{Z}]/u;

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** Python `repr(s)` for a str: quote choice, escapes and printable non-ASCII kept as is. */
export function pyReprStr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + hex(cp, 2);
    else if (cp < 0x7f) out += ch;
    else if (ch !== ' ' && NON_PRINTABLE.test(ch)) {
      out += cp < 0x100 ? '\\x' + hex(cp, 2) : cp < 0x10000 ? '\\u' + hex(cp, 4) : '\\U' + hex(cp, 8);
    } else out += ch;
  }
  return out + quote;
}

/** Python `repr(list_of_str)`, e.g. `['a', "it's"]`. */
export function pyReprList(items: readonly string[]): string {
  return '[' + items.map(pyReprStr).join(', ') + ']';
}

/** Python `str(x)` for what a Python f-string shows: a str as is, a list of str as its repr. */
export function pyStr(value: string | readonly string[]): string {
  return typeof value === 'string' ? value : pyReprList(value);
}

/** Python `json.dumps(s)` for a str with the defaults (ensure_ascii=True): everything above 0x7E escaped. */
export function pyJsonStr(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || c > 0x7e)
      out += '\\u' + hex(c, 4); // UTF-16 units: astral chars become surrogate pairs
    else out += s[i];
  }
  return out + '"';
}

/** Python `json.dumps` of a list of flat str-valued dicts with default separators (`, ` and `: `). */
export function pyJsonRecords(records: readonly Record<string, string>[]): string {
  const rows = records.map(
    (r) =>
      '{' +
      Object.entries(r)
        .map(([k, v]) => `${pyJsonStr(k)}: ${pyJsonStr(v)}`)
        .join(', ') +
      '}',
  );
  return '[' + rows.join(', ') + ']';
}

/**
 * Python's `template.format(*args)` for positional fields (`{}` numbered in order, or `{0}`, `{1}`): values are
 * inserted as given (never re-expanded), `{{`/`}}` are literal braces. Named fields, conversions and format
 * specs are an error (no upstream template filled this way uses them), as are a lone brace and a missing
 * argument, so a template is never filled differently from Python.
 */
export function pyFormatPositional(template: string, args: readonly string[]): string {
  let auto = 0;
  let numbered = false;
  return template.replace(/\{\{|\}\}|\{([^{}]*)\}|[{}]/g, (whole, field: string | undefined) => {
    if (whole === '{{') return '{';
    if (whole === '}}') return '}';
    if (field === undefined) throw new Error(`single '${whole}' in a format template (Python: ValueError)`);
    if (field !== '' && !/^\d+$/.test(field)) throw new Error(`format field {${field}} is not positional`);
    if (field === '' ? numbered : auto > 0) {
      throw new Error('cannot switch between automatic and manual field numbering (Python: ValueError)');
    }
    const index = field === '' ? auto++ : Number(field);
    if (field !== '') numbered = true;
    const value = args[index];
    if (value === undefined) throw new Error(`format field {${field}} has no argument (Python: IndexError)`);
    return value;
  });
}

/**
 * Python's `template.format(**values)` for named fields (`{name}`): values are inserted as given (never
 * re-expanded), `{{`/`}}` are literal braces. Positional fields, attribute or index lookups, conversions and
 * format specs are an error (the upstream templates filled this way use none), as are a lone brace and a name
 * without a value (Python: KeyError), so a template is never filled differently from Python.
 */
export function pyFormatNamed(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{\{|\}\}|\{([^{}]*)\}|[{}]/g, (whole, field: string | undefined) => {
    if (whole === '{{') return '{';
    if (whole === '}}') return '}';
    if (field === undefined) throw new Error(`single '${whole}' in a format template (Python: ValueError)`);
    if (!/^[A-Za-z_]\w*$/.test(field)) throw new Error(`format field {${field}} is not a plain name`);
    const value = Object.hasOwn(values, field) ? values[field] : undefined;
    if (value === undefined) throw new Error(`format field {${field}} has no value (Python: KeyError)`);
    return value;
  });
}
