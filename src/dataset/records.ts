import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { InputError } from '../errors.js';

/**
 * Raw records from CSV, JSON, JSONL or plain-text files, each with the 1-based line it starts on, so every
 * later error can name file, line and field. Knows nothing about goals; `load.ts` turns records into Behaviors.
 */
export interface SourceRecord {
  /** The parsed value: an object for tables and JSON objects, a string for text lines and JSON strings. */
  value: unknown;
  /** 1-based line where the record starts. */
  line: number;
}

export type RecordFormat = 'csv' | 'json' | 'jsonl' | 'txt';

export function detectFormat(file: string): RecordFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv' || ext === '.tsv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.json') return 'json';
  if (ext === '.txt') return 'txt';
  throw new InputError(
    `unknown dataset format '${ext || '(none)'}'; use .csv, .json, .jsonl or .txt, or set format`,
    {
      file,
    },
  );
}

export function readRecords(file: string, format: RecordFormat = detectFormat(file)): SourceRecord[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new InputError(`cannot read dataset: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      file,
    });
  }
  let text = decodeText(bytes, file);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  switch (format) {
    case 'csv':
      return csvRecords(text, file);
    case 'jsonl':
      return jsonlRecords(text, file);
    case 'json':
      return jsonRecords(text, file);
    case 'txt':
      return textRecords(text);
  }
}

/**
 * The file as UTF-8 text, or an InputError naming the line when it is not text: a NUL byte or invalid UTF-8
 * means a binary file (a model, an archive) was named by mistake, and must never be sent to a model.
 */
export function decodeText(bytes: Uint8Array, file: string): string {
  const lineOf = (offset: number): number => {
    let line = 1;
    for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
    return line;
  };
  const nul = bytes.indexOf(0);
  if (nul >= 0)
    throw new InputError('not a text file (NUL byte): binary data is not a dataset', {
      file,
      line: lineOf(nul),
    });
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // Find the first bad sequence for the error: decode growing prefixes line by line.
    let start = 0;
    let line = 1;
    const strict = new TextDecoder('utf-8', { fatal: true });
    while (start < bytes.length) {
      let end = bytes.indexOf(0x0a, start);
      if (end < 0) end = bytes.length;
      try {
        strict.decode(bytes.subarray(start, end));
      } catch {
        break;
      }
      start = end + 1;
      line++;
    }
    throw new InputError('not valid UTF-8 text: binary data is not a dataset', { file, line });
  }
}

/** The string `field` of every record of a file, in file order (e.g. the `question` of a DeRTa pack file). */
export function readStringField(file: string, field: string, format?: RecordFormat): string[] {
  return readRecords(file, format).map(({ value, line }) => {
    const v = (value as Record<string, unknown> | null)?.[field];
    if (typeof v !== 'string') throw new InputError('expected a string', { file, line, field });
    return v;
  });
}

function csvRecords(text: string, file: string): SourceRecord[] {
  const delimiter = file.toLowerCase().endsWith('.tsv') ? '\t' : ',';
  try {
    const rows = parseCsv(text, {
      columns: (header: string[]) => header.map((h) => h.trim()),
      delimiter,
      info: true,
      skip_empty_lines: true,
      relax_quotes: false,
    }) as { record: Record<string, string>; info: { lines: number; raw?: string } }[];
    // info.lines is the line where the record ends; count its own newlines back to where it starts.
    return rows.map(({ record, info }) => ({
      value: record,
      line: info.lines - countRecordNewlines(record),
    }));
  } catch (err) {
    const e = err as { lines?: number; message: string; code?: string };
    throw new InputError(`invalid CSV: ${e.message.replace(/^Invalid Record Length: /, '')}`, {
      file,
      line: e.lines,
    });
  }
}

function countRecordNewlines(record: Record<string, string>): number {
  let n = 0;
  for (const v of Object.values(record)) for (const ch of v) if (ch === '\n') n++;
  return n;
}

function jsonlRecords(text: string, file: string): SourceRecord[] {
  const out: SourceRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] as string).replace(/\r$/, '');
    if (raw.trim() === '') continue;
    try {
      out.push({ value: JSON.parse(raw), line: i + 1 });
    } catch (err) {
      throw new InputError(`invalid JSON: ${(err as Error).message}`, { file, line: i + 1 });
    }
  }
  return out;
}

/**
 * A JSON array of records (or an object holding one array). Many research "*.json" files are really JSON
 * Lines; those are read as such. Line numbers come from the yaml parser, which reads JSON with positions.
 */
function jsonRecords(text: string, file: string): SourceRecord[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    if (looksLikeJsonLines(text)) return jsonlRecords(text, file);
    throw new InputError(`invalid JSON: ${(err as Error).message}`, { file, line: jsonErrorLine(text, err) });
  }
  const list = Array.isArray(value) ? value : singleArrayField(value);
  if (!list) {
    if (value && typeof value === 'object') return [{ value, line: 1 }];
    throw new InputError('expected a JSON array of records (or JSON Lines)', { file, line: 1 });
  }
  const lines = arrayItemLines(text, list.length);
  return list.map((v, i) => ({ value: v, line: lines[i] ?? 1 }));
}

function looksLikeJsonLines(text: string): boolean {
  const first = text.split('\n').find((l) => l.trim() !== '');
  if (first === undefined) return false;
  try {
    JSON.parse(first);
    return true;
  } catch {
    return false;
  }
}

function singleArrayField(value: unknown): unknown[] | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const arrays = Object.values(value as Record<string, unknown>).filter(Array.isArray);
  return arrays.length === 1 ? (arrays[0] as unknown[]) : undefined;
}

/**
 * The start line of each element of the top-level array (or of the single array field of a top-level object):
 * one pass over the text tracking nesting and strings, so large files cost about as much as JSON.parse.
 */
function arrayItemLines(text: string, count: number): number[] {
  const lines: number[] = [];
  let line = 1;
  let depth = 0;
  let topIsObject = false;
  let target = 0; // the depth inside the records array, once it is open
  let done = false;
  let expectItem = false; // the next token inside the records array starts an element
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      line++;
      continue;
    }
    if (c === 32 || c === 9 || c === 13) continue;
    if (expectItem && depth === target) {
      if (c !== 93) lines.push(line); // not the "]" of an empty array
      expectItem = false;
    }
    if (c === 34) {
      // A string: JSON strings hold no raw newlines; skip to the closing quote, past escapes.
      for (i++; i < text.length && text.charCodeAt(i) !== 34; i++) if (text.charCodeAt(i) === 92) i++;
    } else if (c === 91 || c === 123) {
      depth++;
      if (depth === 1) topIsObject = c === 123;
      if (!done && target === 0 && c === 91 && (depth === 1 || (depth === 2 && topIsObject))) {
        target = depth;
        expectItem = true;
      }
    } else if (c === 93 || c === 125) {
      if (depth === target) done = true;
      depth--;
    } else if (c === 44 && depth === target && !done) {
      expectItem = true;
    }
  }
  while (lines.length < count) lines.push(1);
  return lines;
}

function jsonErrorLine(text: string, err: unknown): number | undefined {
  const m = /position (\d+)/.exec((err as Error).message);
  if (!m) return undefined;
  const pos = Number(m[1]);
  let line = 1;
  for (let i = 0; i < pos && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function textRecords(text: string): SourceRecord[] {
  const out: SourceRecord[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() !== '') out.push({ value: line, line: i + 1 });
  });
  return out;
}
