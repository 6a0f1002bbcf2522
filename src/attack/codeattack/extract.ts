import { PY_WS_CLASS, pyStr } from '../../util/python.js';

/**
 * What the judge sees of a CodeAttack response.
 * - `paper`: upstream `post_processing.py` (spec §4): only non-empty double-quoted literals in
 *   `output_list.append("…")` (Python), `outputList.push_back("…");` (C++) or `append(outputList, "…")` (Go);
 *   for Python the fallback is the text inside `output_list = [ … ]` up to the first `]`; else the response.
 *   A list reaches the judge as Python's `repr`, exactly as the f-string in `judge.py` renders it.
 * - `robust`: any language's append/push/add calls and list literals, with single, double, triple, f-,
 *   raw, byte and backtick literals, escapes decoded and `+`/adjacent concatenation joined; plus the prose
 *   outside code fences, where models often put the real answer.
 * - `none`: the response unchanged.
 */
export type ExtractMode = 'paper' | 'robust' | 'none';

const PY_APPEND = /output_list\.append\("([^"]+)"\)/g;
const PY_LIST = new RegExp(
  `output_list[${PY_WS_CLASS}]*=[${PY_WS_CLASS}]*\\[[${PY_WS_CLASS}]*([\\s\\S]*?)[${PY_WS_CLASS}]*\\]`,
  'u',
);
const C_PUSH = /outputList\.push_back\("([^"]+)"\);/g;
const GO_APPEND = new RegExp(
  `outputList[${PY_WS_CLASS}]*=[${PY_WS_CLASS}]*append\\(outputList,[${PY_WS_CLASS}]*"([^"]+)"\\)`,
  'gu',
);

/**
 * Upstream's post-processing, dispatched like `PostProcessor.core` on the prompt type name by substring
 * (`python`, then case-sensitive `C`, then `go`). Returns a list (repr'd for the judge) or a string.
 */
export function paperExtractRaw(response: string, promptType: string): string | string[] {
  const all = (re: RegExp): string[] => Array.from(response.matchAll(re), (m) => m[1] as string);
  if (promptType.includes('python')) {
    const items = all(PY_APPEND);
    if (items.length > 0) return items;
    const m = PY_LIST.exec(response);
    return m ? (m[1] as string) : response;
  }
  if (promptType.includes('C')) {
    const items = all(C_PUSH);
    return items.length > 0 ? items : response;
  }
  if (promptType.includes('go')) {
    const items = all(GO_APPEND);
    return items.length > 0 ? items : response;
  }
  return response;
}

export function paperExtract(response: string, promptType: string): string {
  return pyStr(paperExtractRaw(response, promptType));
}

// ---------------------------------------------------------------------------------------------- robust

/** A call that adds one step to the output list, in any of the languages we generate or models answer in. */
const ADD_CALL =
  /\b(?:output_?list|outputList|output_?vec|outputVec|output|steps)\s*\.\s*(?:append|push_back|emplace_back|push|add|addLast|offer)\s*\(|\bappend\s*\(\s*(?:output_?list|outputList|steps)\s*,/gi;
/** An assignment of a literal list to the output list (Python, JS, Go, C++, Rust, Java). */
const LIST_ASSIGN =
  /\b(?:output_?list|outputList|output_?vec|outputVec)\b[^=\n;]{0,60}?(?::=|=)\s*(?:vec!\s*|\[\]string\s*|List\.of\s*|Arrays\.asList\s*|new\s+[\w.<>]+\s*|std::vector<[^>]*>\s*)?([[({])/g;
/** Wrappers around a literal that still mean "this string": String::from("…"), std::string("…"), str(…). */
const WRAPPER = /(?:String::from|std::string|String|str|string|String\.valueOf)\s*\(\s*/y;
const TRAILER = /\s*(?:\.\s*(?:to_string|to_owned|into|toString|c_str)\s*\(\s*\)|\))/y;
const PREFIX = /[rRbBuUfF]{0,2}(?=["'`])/y;

/** A sticky regex match at exactly `at` (no substring copies: extraction stays linear in the response). */
function matchAt(re: RegExp, text: string, at: number): RegExpExecArray | null {
  re.lastIndex = at;
  return re.exec(text);
}

interface Literal {
  value: string;
  end: number;
}

/** Parses a string literal starting at `i` (with an optional r/b/u/f prefix); undefined if none starts there. */
export function parseLiteral(text: string, i: number): Literal | undefined {
  const prefix = matchAt(PREFIX, text, i);
  if (!prefix) return undefined;
  const raw = /r/i.test(prefix[0]);
  let j = i + prefix[0].length;
  const q = text[j] as string;
  const triple = q !== '`' && text.startsWith(q.repeat(3), j);
  const close = triple ? q.repeat(3) : q;
  j += close.length;
  // Text between escapes is copied in slices, not character by character: long responses stay cheap.
  let value = '';
  let run = j;
  while (j < text.length) {
    const ch = text[j] as string;
    if (ch === q && text.startsWith(close, j))
      return { value: value + text.slice(run, j), end: j + close.length };
    if (ch === '\n' && !triple && q !== '`') return undefined; // unterminated single-line literal
    if (ch === '\\' && j + 1 < text.length) {
      if (!raw) {
        const { decoded, length } = decodeEscape(text, j);
        value += text.slice(run, j) + decoded;
        j += length;
        run = j;
        continue;
      }
      if (text[j + 1] === q) {
        j += 2; // a raw literal cannot end at an escaped quote; both characters stay as written
        continue;
      }
    }
    j += 1;
  }
  return undefined;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '0': '\0',
  b: '\b',
  f: '\f',
  v: '\v',
  a: '\x07',
};

function decodeEscape(text: string, j: number): { decoded: string; length: number } {
  const next = text[j + 1] as string;
  if (next in SIMPLE_ESCAPES && !(next === '0' && /[0-7]/.test(text[j + 2] ?? ''))) {
    return { decoded: SIMPLE_ESCAPES[next] as string, length: 2 };
  }
  const tail = text.slice(j + 1, j + 12);
  const m =
    /^x([0-9a-fA-F]{2})/.exec(tail) ??
    /^u\{([0-9a-fA-F]{1,6})\}/.exec(tail) ??
    /^u([0-9a-fA-F]{4})/.exec(tail) ??
    /^U([0-9a-fA-F]{8})/.exec(tail);
  if (m) {
    const cp = parseInt(m[1] as string, 16);
    if (cp <= 0x10ffff) return { decoded: String.fromCodePoint(cp), length: 1 + m[0].length };
  }
  const oct = /^[0-7]{1,3}/.exec(tail);
  if (oct) return { decoded: String.fromCharCode(parseInt(oct[0], 8)), length: 1 + oct[0].length };
  if (next === '\n') return { decoded: '', length: 2 }; // line continuation
  return { decoded: next, length: 2 }; // \" \' \\ \` and unknown escapes keep the character
}

/**
 * One string expression at `i`: literals joined by `+` or juxtaposition, optionally wrapped
 * (`String::from("…")`, `"…".to_string()`). Returns the joined value, or undefined if no literal starts here.
 */
function parseStringExpr(text: string, i: number): Literal | undefined {
  let j = i;
  let value = '';
  let found = false;
  for (;;) {
    j = skipSpace(text, j);
    let depth = 0;
    for (let w = matchAt(WRAPPER, text, j); w; w = matchAt(WRAPPER, text, j)) {
      j += w[0].length;
      depth += 1;
    }
    const lit = parseLiteral(text, j);
    if (!lit) return found ? { value, end: j } : undefined;
    value += lit.value;
    found = true;
    j = lit.end;
    for (
      let t = matchAt(TRAILER, text, j);
      t && (depth > 0 || t[0].trim() !== ')');
      t = matchAt(TRAILER, text, j)
    ) {
      if (t[0].trim() === ')') depth -= 1;
      j += t[0].length;
    }
    const k = skipSpace(text, j);
    if (text[k] === '+') j = k + 1;
    else if (parseLiteral(text, k) === undefined) return { value, end: j };
  }
}

function skipSpace(text: string, j: number): number {
  while (j < text.length && /\s/.test(text[j] as string)) j += 1;
  return j;
}

/** The string items of the calls and list literals that build the output list, in text order. */
export function codeItems(response: string): string[] {
  const found: { at: number; items: string[] }[] = [];
  for (const m of response.matchAll(ADD_CALL)) {
    const items: string[] = [];
    let j = (m.index ?? 0) + m[0].length;
    // Go's append and Java's Collections.addAll take several strings: `append(outputList, "a", "b")`.
    for (let expr = parseStringExpr(response, j); expr; expr = parseStringExpr(response, j)) {
      items.push(expr.value);
      j = skipSpace(response, expr.end);
      if (response[j] !== ',') break;
      j += 1;
    }
    found.push({ at: m.index ?? 0, items });
  }
  for (const m of response.matchAll(LIST_ASSIGN)) {
    found.push({ at: m.index ?? 0, items: literalsInBrackets(response, (m.index ?? 0) + m[0].length - 1) });
  }
  return found
    .sort((a, b) => a.at - b.at)
    .flatMap((f) => f.items)
    .filter((s) => s.trim() !== '');
}

/** The string expressions inside the bracket that opens at `open`, up to its matching close. */
function literalsInBrackets(text: string, open: number): string[] {
  const items: string[] = [];
  let depth = 0;
  let j = open;
  while (j < text.length) {
    const ch = text[j] as string;
    if ('[({'.includes(ch)) depth += 1;
    else if (')]}'.includes(ch)) {
      depth -= 1;
      if (depth === 0) break;
    } else if (
      /["'`]/.test(ch) ||
      (/[rRbBuUfF]/.test(ch) && /["'`]/.test(text[j + 1] ?? '') && !/\w/.test(text[j - 1] ?? ''))
    ) {
      const expr = parseStringExpr(text, j);
      if (expr) {
        items.push(expr.value);
        j = expr.end;
        continue;
      }
    }
    j += 1;
  }
  return items;
}

const FENCE = /```[^\n]*\n[\s\S]*?(?:```|$)/g;

/** The response with fenced code blocks removed, trimmed. */
export function proseOutsideFences(response: string): string {
  return response
    .replace(FENCE, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * Robust extraction: the steps found in code as a numbered list, then the prose outside code fences.
 * With neither, the response itself.
 */
export function robustExtract(response: string): string {
  const items = codeItems(response);
  const prose = response.includes('```')
    ? proseOutsideFences(response)
    : items.length > 0
      ? ''
      : response.trim();
  const parts = [];
  if (items.length > 0) parts.push(items.map((s, k) => `${k + 1}. ${s}`).join('\n'));
  if (prose !== '') parts.push(prose);
  return parts.length > 0 ? parts.join('\n\n') : response;
}
