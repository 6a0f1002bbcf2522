import { FIELD_ALIASES } from './fields.js';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { PACK_NAME, insidePack } from '../config/schema.js';
import { InputError } from '../errors.js';
import type { Behavior } from '../types.js';
import { sha256 } from '../util/hash.js';
import { Rng } from '../util/random.js';
import { readRecords, detectFormat, type RecordFormat, type SourceRecord } from './records.js';

/** Where behaviors come from and which of them to use (the config's `dataset` section). */
export interface DatasetSpec {
  /** A file path (relative paths resolve against `baseDir`). */
  path?: string;
  /** Or a data pack and a file inside it, e.g. `{pack: codeattack, file: data/harmful_behaviors.csv}`. */
  pack?: string;
  file?: string;
  format?: RecordFormat;
  /** The field holding the goal; default: the first of FIELD_ALIASES.goal present. */
  field?: string;
  idField?: string;
  categoryField?: string;
  /** Keep every k-th record (offset 0): DeRTa's PAIR/AutoDAN subset is `every: 4`. */
  every?: number;
  /** A seeded random subset of this size, kept in file order. */
  sample?: number;
  seed?: number;
  /** At most this many (applied last). */
  limit?: number;
  /** Only records whose column equals one of the values (applied first), e.g. XSTest's `{label: safe}`. */
  where?: Record<string, string | readonly string[]>;
}

/** Field names recognised as "the goal", in order of preference. */
const GOAL_FIELDS = FIELD_ALIASES.goal;

export interface LoadContext {
  dataDir: string;
  /** Folder relative dataset paths resolve against (the config file's folder). */
  baseDir?: string;
}

/** Resolves a spec to a readable file and a `source` label for its behaviors. */
export function resolveDatasetFile(spec: DatasetSpec, ctx: LoadContext): { file: string; source: string } {
  if (spec.path !== undefined && spec.pack !== undefined) {
    throw new InputError('give either path or pack+file, not both', { field: 'dataset' });
  }
  if (spec.path !== undefined) {
    const file = path.resolve(ctx.baseDir ?? process.cwd(), spec.path);
    if (!existsSync(file)) throw new InputError('dataset file not found', { file, field: 'dataset.path' });
    return { file, source: spec.path };
  }
  if (spec.pack !== undefined && spec.file !== undefined) {
    if (!PACK_NAME.test(spec.pack)) {
      throw new InputError('expected a data pack name (see: refusenik data list)', {
        file: spec.pack,
        field: 'dataset.pack',
      });
    }
    const root = path.resolve(ctx.dataDir, spec.pack);
    const file = path.resolve(root, spec.file);
    if (!insidePack(spec.file) || !file.startsWith(root + path.sep)) {
      throw new InputError('a pack file path must stay inside the pack (no absolute path, no ..)', {
        file: spec.file,
        field: 'dataset.file',
      });
    }
    if (!existsSync(file)) {
      throw new InputError(
        `data pack file not found in ${ctx.dataDir}; run \`refusenik data pull ${spec.pack}\` ` +
          '(or set REFUSENIK_DATA_DIR)',
        { file: `${spec.pack}/${spec.file}`, field: 'dataset' },
      );
    }
    return { file, source: `pack:${spec.pack}/${spec.file}` };
  }
  throw new InputError('dataset needs `path`, or `pack` and `file`', { field: 'dataset' });
}

/** Reads, validates and selects the behaviors a spec names. */
export function loadBehaviors(spec: DatasetSpec, ctx: LoadContext): Behavior[] {
  const { file, source } = resolveDatasetFile(spec, ctx);
  const records = readRecords(file, spec.format ?? detectFormat(file));
  if (records.length === 0) throw new InputError('dataset has no records', { file });
  const all = toBehaviors(records, spec, file, source);
  return select(all, spec);
}

function toBehaviors(records: SourceRecord[], spec: DatasetSpec, file: string, source: string): Behavior[] {
  const first = records[0] as SourceRecord;
  const goalField = typeof first.value === 'string' ? undefined : (spec.field ?? detectField(first, file));
  const idField = spec.idField ?? findField(first.value, FIELD_ALIASES.id);
  const categoryField = spec.categoryField ?? findField(first.value, FIELD_ALIASES.category);
  const seen = new Map<string, number>();
  return records.map((rec, index) => {
    const { text, fields } = goalOf(rec, goalField, file);
    let id = idField !== undefined ? fields[idField] : undefined;
    if (id === undefined || id === '') id = sha256(text).slice(0, 12);
    const dup = (seen.get(id) ?? 0) + 1;
    seen.set(id, dup);
    if (dup > 1) id = `${id}~${dup}`;
    const meta: Record<string, string> = {};
    for (const [k, v] of Object.entries(fields)) if (k !== goalField && v !== '') meta[k] = v;
    const category = categoryField !== undefined ? fields[categoryField] || undefined : undefined;
    return {
      id,
      text,
      source,
      index,
      ...(category ? { category } : {}),
      ...(Object.keys(meta).length ? { meta } : {}),
    };
  });
}

function detectField(rec: SourceRecord, file: string): string {
  const found = findField(rec.value, GOAL_FIELDS);
  if (found === undefined) {
    const keys =
      rec.value && typeof rec.value === 'object' ? Object.keys(rec.value).join(', ') : typeof rec.value;
    throw new InputError(
      `no goal field found (looked for ${GOAL_FIELDS.join(', ')}; record has: ${keys}); name it with dataset.field`,
      { file, line: rec.line },
    );
  }
  return found;
}

/** The first candidate present as a key, matched case-insensitively; returns the record's own spelling. */
function findField(value: unknown, candidates: readonly string[]): string | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  for (const c of candidates) {
    const hit = keys.find((k) => k.toLowerCase() === c.toLowerCase());
    if (hit !== undefined) return hit;
  }
  return undefined;
}

function goalOf(
  rec: SourceRecord,
  goalField: string | undefined,
  file: string,
): { text: string; fields: Record<string, string> } {
  if (typeof rec.value === 'string') {
    if (rec.value.trim() === '') throw new InputError('empty goal', { file, line: rec.line });
    return { text: rec.value, fields: {} };
  }
  if (!rec.value || typeof rec.value !== 'object' || Array.isArray(rec.value)) {
    throw new InputError(`expected an object or a string, got ${JSON.stringify(rec.value)?.slice(0, 40)}`, {
      file,
      line: rec.line,
    });
  }
  const obj = rec.value as Record<string, unknown>;
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === null || v === undefined) continue;
    fields[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  const field = goalField as string;
  const raw = obj[field];
  if (raw === undefined || raw === null)
    throw new InputError('missing goal field', { file, line: rec.line, field });
  if (typeof raw !== 'string') {
    throw new InputError(`goal must be a string, got ${typeof raw}`, { file, line: rec.line, field });
  }
  if (raw.trim() === '') throw new InputError('empty goal', { file, line: rec.line, field });
  return { text: raw, fields };
}

function select(all: Behavior[], spec: DatasetSpec): Behavior[] {
  let out = all;
  for (const [column, want] of Object.entries(spec.where ?? {})) {
    const values = new Set(typeof want === 'string' ? [want] : want);
    out = out.filter((b) =>
      values.has(b.meta?.[column] ?? (column === 'category' ? (b.category ?? '') : '')),
    );
    if (out.length === 0) {
      throw new InputError(`no record has ${column} = ${[...values].join(' | ')}`, {
        field: `dataset.where.${column}`,
      });
    }
  }
  if (spec.every !== undefined && spec.every > 1)
    out = out.filter((_, i) => i % (spec.every as number) === 0);
  if (spec.sample !== undefined && spec.sample < out.length) {
    const rng = new Rng(spec.seed ?? 0);
    out = rng.sampleIndices(out.length, spec.sample).map((i) => out[i] as Behavior);
  }
  if (spec.limit !== undefined) out = out.slice(0, spec.limit);
  return out;
}
