import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { readRecords } from '../../dataset/records.js';
import { InputError } from '../../errors.js';
import { GOAL_SLOT, hasGoalSlot } from '../goal-slot.js';
import { SITE_SLOT, templateHash, type Template } from './library.js';

/**
 * User template files. Two formats, chosen by extension:
 *
 * - `.json` / `.jsonl`: a list of `{"name": "...", "template": "..."}` (name optional);
 * - any other extension (`.txt`, `.md`): templates separated by lines made of three or more `=`, optionally
 *   naming the template that follows: `=== my-template ===`. Blank lines around a template are dropped.
 *
 * The slot is `{{goal}}` (`{{ goal }}` too) or the jailbreakchat.com site's `[INSERT PROMPT HERE]`; a template
 * may hold several. Unnamed templates are called `<file stem>-<n>` (1-based position in the file).
 */

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const SEPARATOR = /^={3,}(?:\s*(.*?)\s*={3,})?\s*$/;
const SLOT_FORMS = /\{\{\s*goal\s*\}\}|\[INSERT PROMPT HERE\]/g;

interface RawTemplate {
  name?: string;
  text: string;
  line: number;
}

export function loadUserTemplates(file: string): Template[] {
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new InputError('template file not found', { file });
  }
  const ext = path.extname(file).toLowerCase();
  const raw = ext === '.json' || ext === '.jsonl' ? jsonTemplates(file) : textTemplates(file);
  if (raw.length === 0) throw new InputError('no templates in the file', { file });
  const stem = path.basename(file, path.extname(file)).replace(/[^A-Za-z0-9._-]+/g, '-') || 'template';
  const seen = new Set<string>();
  return raw.map((r, i) => {
    const where = { file, line: r.line, field: `templates[${i}]` };
    const id = r.name ?? `${stem}-${i + 1}`;
    if (!NAME.test(id)) {
      throw new InputError(`template name '${id}' may only use letters, digits, '.', '_' and '-'`, where);
    }
    if (/^jbc-\d+$/.test(id)) throw new InputError(`template name '${id}' is reserved for the pack`, where);
    if (seen.has(id)) throw new InputError(`duplicate template name '${id}'`, where);
    seen.add(id);
    const text = r.text.replace(SLOT_FORMS, GOAL_SLOT);
    if (!hasGoalSlot(text)) {
      throw new InputError(
        `template '${id}' has no slot; put {{goal}} (or ${SITE_SLOT}) where the goal goes`,
        where,
      );
    }
    return { id, text, hash: templateHash(text), source: file };
  });
}

function jsonTemplates(file: string): RawTemplate[] {
  return readRecords(file).map(({ value, line }, i) => {
    const where = (field: string) => ({ file, line, field: `templates[${i}]${field}` });
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new InputError('expected an object {"name": ..., "template": ...}', where(''));
    }
    const rec = value as Record<string, unknown>;
    const unknown = Object.keys(rec).filter((k) => k !== 'name' && k !== 'template');
    if (unknown.length) throw new InputError(`unknown key '${unknown[0]}'`, where(`.${unknown[0]}`));
    if (typeof rec['template'] !== 'string') throw new InputError('expected a string', where('.template'));
    if (rec['name'] !== undefined && typeof rec['name'] !== 'string') {
      throw new InputError('expected a string', where('.name'));
    }
    return { name: rec['name'] as string | undefined, text: rec['template'], line };
  });
}

function textTemplates(file: string): RawTemplate[] {
  const lines = readFileSync(file, 'utf8')
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/);
  const out: RawTemplate[] = [];
  let current: { name?: string; start: number; body: string[] } = { start: 1, body: [] };
  const flush = (): void => {
    const body = current.body;
    let a = 0;
    let b = body.length;
    while (a < b && (body[a] as string).trim() === '') a++;
    while (b > a && (body[b - 1] as string).trim() === '') b--;
    // An unnamed, empty block (text before the first separator, or the end of the file) is not a template.
    if (a === b && current.name === undefined) return;
    out.push({ name: current.name, text: body.slice(a, b).join('\n'), line: current.start + a });
  };
  lines.forEach((line, i) => {
    const sep = SEPARATOR.exec(line);
    if (!sep) {
      current.body.push(line);
      return;
    }
    flush();
    current = { name: sep[1] || undefined, start: i + 2, body: [] };
  });
  flush();
  return out;
}
