import { InputError } from '../../errors.js';
import { readRecords, type SourceRecord } from '../../dataset/records.js';
import { packFile } from '../../data/packs.js';
import { parsePythonLiteral, type PyLiteral } from '../../data/python/literal.js';
import { PythonSyntaxError } from '../../data/python/strings.js';
import type { ChatMessage, Role } from '../../types.js';

/**
 * CodeAttack's SelfCipher baseline prompts (`prompts/data_ciphers.json` of the codeattack pack): 520 records
 * `{plain_attack, cipher}`, one per AdvBench goal, where `cipher` is the Python `repr()` of the chat message list
 * sent to the model: a system message (CipherChat's SelfCipher role prompt, 3 toxic demonstrations of one of
 * CipherChat's domains, "Please reply me with negative/toxic point of view.") and the goal as the user message.
 * The file has 7 distinct system messages; which one a goal got follows its harm category, so it is looked up
 * by the goal's text. The file is one JSON array; JSON Lines is read too.
 */

export const CIPHER_PACK_FILE = 'prompts/data_ciphers.json';

export interface CipherPackRecord {
  goal: string;
  messages: ChatMessage[];
}

/** A CipherChat system prompt cut into its parts: `preamble + "\n" + Σ "Example i\n" + demo + "\n" + suffix`. */
export interface DemoSet {
  preamble: string;
  demos: string[];
  suffix: string;
}

export interface CipherPack {
  file: string;
  records: CipherPackRecord[];
  /** The system message the pack pairs with a goal, or undefined for a goal not in the pack. */
  systemFor(goal: string): string | undefined;
  /** The system message most records use (412 of 520), for goals not in the pack. */
  commonSystem: string;
  /** The demonstration set of a system message of this pack. */
  demoSet(system: string): DemoSet;
}

const ROLES: readonly Role[] = ['system', 'user', 'assistant'];

function toMessages(value: PyLiteral, where: () => InputError): ChatMessage[] {
  if (!Array.isArray(value)) throw where();
  return value.map((m) => {
    if (m === null || typeof m !== 'object' || Array.isArray(m)) throw where();
    const keys = Object.keys(m);
    const role = m['role'];
    const content = m['content'];
    if (keys.length !== 2 || typeof content !== 'string' || !ROLES.includes(role as Role)) throw where();
    return { role: role as Role, content };
  });
}

/** Checks the pack file's records (from `readRecords`); errors name the file, line and field (`[i].cipher`). */
export function parseCipherPack(rows: readonly SourceRecord[], file: string): CipherPackRecord[] {
  return rows.map(({ value, line }, i) => {
    const rec = value as { plain_attack?: unknown; cipher?: unknown } | null;
    const at = (field: string) => ({ file, line, field: `[${i}].${field}` });
    if (typeof rec?.plain_attack !== 'string') throw new InputError('expected a string', at('plain_attack'));
    if (typeof rec.cipher !== 'string') throw new InputError('expected a string', at('cipher'));
    let literal: PyLiteral;
    try {
      literal = parsePythonLiteral(rec.cipher);
    } catch (err) {
      if (err instanceof PythonSyntaxError) throw new InputError(err.message, at('cipher'));
      throw err;
    }
    const messages = toMessages(
      literal,
      () => new InputError("expected a list of {'role': ..., 'content': str} dicts", at('cipher')),
    );
    return { goal: rec.plain_attack, messages };
  });
}

/** Cuts a CipherChat system prompt into preamble, demonstrations and suffix, checking that they rebuild it. */
export function splitDemoSet(system: string): DemoSet | undefined {
  const start = system.indexOf('\nExample 0\n');
  if (start < 0) return undefined;
  const preamble = system.slice(0, start);
  const demos: string[] = [];
  let pos = start + 1;
  for (let i = 0; ; i++) {
    const head = `Example ${i}\n`;
    const next = system.indexOf(`\nExample ${i + 1}\n`, pos);
    const end = next >= 0 ? next : system.lastIndexOf('\n\n');
    if (!system.startsWith(head, pos) || end < pos + head.length) return undefined;
    demos.push(system.slice(pos + head.length, end));
    pos = end + 1;
    if (next < 0) break;
  }
  const set = { preamble, demos, suffix: system.slice(pos) };
  return renderSystem(set.preamble, set.demos, set.suffix) === system ? set : undefined;
}

/** CipherChat's system prompt layout (its main.py): role prompt, then each demonstration, then the suffix. */
export function renderSystem(preamble: string, demos: readonly string[], suffix: string): string {
  return `${preamble}\n${demos.map((d, i) => `Example ${i}\n${d}\n`).join('')}${suffix}`;
}

const cache = new Map<string, CipherPack>();

export function loadCipherPack(dataDir: string): CipherPack {
  const file = packFile('codeattack', CIPHER_PACK_FILE, dataDir);
  const hit = cache.get(file);
  if (hit) return hit;
  const records = parseCipherPack(readRecords(file, 'json'), file);
  const byGoal = new Map<string, string>();
  const counts = new Map<string, number>();
  const sets = new Map<string, DemoSet>();
  records.forEach((r, i) => {
    const [system, user] = r.messages;
    if (r.messages.length !== 2 || system?.role !== 'system' || user?.role !== 'user') {
      throw new InputError('expected a system message and a user message', { file, field: `[${i}].cipher` });
    }
    if (!sets.has(system.content)) {
      const set = splitDemoSet(system.content);
      if (!set) {
        throw new InputError('system message is not in the CipherChat layout (Example 0, Example 1, ...)', {
          file,
          field: `[${i}].cipher`,
        });
      }
      sets.set(system.content, set);
    }
    if (!byGoal.has(r.goal.trim())) byGoal.set(r.goal.trim(), system.content);
    counts.set(system.content, (counts.get(system.content) ?? 0) + 1);
  });
  if (!records.length) throw new InputError('the file has no records', { file });
  const commonSystem = [...counts].reduce((a, b) => (b[1] > a[1] ? b : a))[0];
  const pack: CipherPack = {
    file,
    records,
    systemFor: (goal) => byGoal.get(goal.trim()),
    commonSystem,
    demoSet: (system) => sets.get(system) as DemoSet,
  };
  cache.set(file, pack);
  return pack;
}
