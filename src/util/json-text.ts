/**
 * Scans the JSON-like object opening at `start` (string-aware: braces inside JSON strings do not count): where
 * its `{` closes, or, when the text ends first (a cut-off answer), the braces still open and whether a string
 * is still open there.
 */
export function scanObject(text: string, start: number): { end: number; depth: number; inString: boolean } {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return { end: i, depth, inString };
  }
  return { end: -1, depth, inString };
}

/** Index of the `}` closing the `{` at `start`, or -1. Braces inside JSON strings do not count. */
export function matchingBrace(text: string, start: number): number {
  return scanObject(text, start).end;
}
