/**
 * Python's `json.dumps(value, indent=N, ensure_ascii=False)`, byte for byte, so files that upstream tooling
 * wrote with Python can be rebuilt here under the same sha256. JSON.stringify agrees with it on strings
 * (same escapes), structure and integers; floats differ (`1.0` vs `1`), so they are marked with PyFloat.
 */

export class PyFloat {
  constructor(readonly value: number) {}
}

export type PyJson = string | number | boolean | null | PyFloat | PyJson[] | { [key: string]: PyJson };

export function pythonJsonDumps(value: PyJson, indent = 1): string {
  return dump(value, indent, 0);
}

function dump(value: PyJson, indent: number, level: number): string {
  if (value === null) return 'null';
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`not an integer: ${value} (mark floats with PyFloat)`);
    return String(value);
  }
  if (value instanceof PyFloat) return floatRepr(value.value);
  const entries: [string | null, PyJson][] = Array.isArray(value)
    ? value.map((v) => [null, v])
    : Object.entries(value);
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  if (!entries.length) return open + close;
  const inner = '\n' + ' '.repeat(indent * (level + 1));
  const items = entries.map(
    ([k, v]) => (k === null ? '' : `${JSON.stringify(k)}: `) + dump(v, indent, level + 1),
  );
  return `${open}${inner}${items.join(`,${inner}`)}\n${' '.repeat(indent * level)}${close}`;
}

/** Python's float repr: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export function floatRepr(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`${v} is not valid JSON`);
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  const [mantissa, exp] = v.toExponential().split('e') as [string, string];
  const e = Number(exp);
  if (e < -4 || e >= 16) return `${mantissa}e${exp[0]}${exp.slice(1).padStart(2, '0')}`;
  const fixed = String(v); // JS uses plain notation for 1e-7 < |v| < 1e21, a superset of Python's range
  return fixed.includes('.') ? fixed : `${fixed}.0`;
}
