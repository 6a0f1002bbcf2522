/**
 * CSV cells for files people open in spreadsheets. Labels, judge ids, run names and file names come from
 * users and models, and a spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage
 * return before one) as a formula: such a text cell gets a leading `'` (OWASP's advice for CSV injection),
 * which spreadsheets show as text. Numbers are written as they are (a negative number is not a formula). A
 * cell holding a comma, quote or line break is quoted, its quotes doubled (RFC 4180).
 */

/** Leading characters a spreadsheet reads as the start of a formula (and their full-width forms). */
const FORMULA_START = /^[=+\-@\t\r\uff1d\uff0b\uff0d\uff20]/u;

export type CsvValue = string | number | boolean | null | undefined;

export function csvCell(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  let s = String(value);
  if (typeof value === 'string' && FORMULA_START.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV line (no line end). */
export function csvLine(values: readonly CsvValue[]): string {
  return values.map(csvCell).join(',');
}
