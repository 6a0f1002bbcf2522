import { z } from 'zod';
import { InputError } from '../../errors.js';
import type { ChatMessage, Prompt } from '../../types.js';
import type { Attack, AttackEnv, AttackFactory } from '../attack.js';
import { CIPHER_NAMES, decodeAnswer, makeCipher, type CipherName } from '../ciphers/index.js';
import { dertaInstText, loadDertaPrefix } from './derta.js';
import { loadCipherPack } from './pack.js';
import { cipherChatSystem } from './cipherchat.js';
import { asList, oneOrMany } from '../options.js';

/**
 * The `selfcipher` attack: SelfCipher / CipherChat (Yuan et al. 2023). Three modes:
 *   derta       DeRTa's `safety_selfcipher.json` prompts (fixed 5-shot text + question), as a chat user message
 *               (default) or, with `format: derta`, as evaluation.py's raw `[INST] ... [\INST]` completion text;
 *   codeattack  CodeAttack's SelfCipher baseline (`data_ciphers.json`): the pack's system message for the goal
 *               (its most common one for goals not in the pack) and the goal as the user message;
 *   cipherchat  CipherChat with a real cipher (`cipher`: selfcipher, caesar, atbash, morse, ascii, unicode,
 *               base64): encoded demonstrations in the system prompt, the encoded goal as the user message, and
 *               the answer decoded before judging.
 * `mode` and `cipher` may be lists: one variant per value.
 */

export const MODES = ['derta', 'codeattack', 'cipherchat'] as const;
type Mode = (typeof MODES)[number];

const Options = z.strictObject({
  /** Default: `cipherchat` when a cipher is given, else `derta`. Names are checked below (clearer errors). */
  mode: oneOrMany(z.string()).optional(),
  /** cipherchat: the cipher(s); default selfcipher. */
  cipher: oneOrMany(z.string()).optional(),
  /** caesar: letters to shift (default 3, as CipherChat). */
  shift: z.number().int().optional(),
  /** cipherchat: how many demonstrations (default 3, as CipherChat; the pack's sets have 3). */
  demos: z.number().int().min(0).optional(),
  /** codeattack/cipherchat: send the instructions as a system message (default) or before the goal. */
  system: z.boolean().optional(),
  /** derta: `chat` (a user message, default) or `derta` (raw `[INST] ... [\INST]` completion text). */
  format: z.enum(['chat', 'derta']).optional(),
});

/** One fully specified variant. */
export interface SelfCipherVariant {
  mode: Mode;
  cipher?: CipherName;
  shift?: number;
  demos?: number;
  system?: boolean;
  format?: 'chat' | 'derta';
}

/** Checks names against `known`; an error names the option and, for a list, the item (`cipher[1]`). */
function checkNames<T extends string>(
  raw: string | string[] | undefined,
  known: readonly T[],
  what: string,
  path: string,
): T[] | undefined {
  if (raw === undefined) return undefined;
  return asList(raw).map((name, i) => {
    if ((known as readonly string[]).includes(name)) return name as T;
    throw new InputError(`unknown ${what} '${name}'; known: ${known.join(', ')}`, {
      field: `${path}.${what}${Array.isArray(raw) ? `[${i}]` : ''}`,
    });
  });
}

/** Expands raw options into variants; an option no chosen mode uses is an error naming it. */
/** One variant per combination of the (list-valued) options. */
export function expandVariants(o: z.output<typeof Options>, path: string): SelfCipherVariant[] {
  const chosenModes = checkNames(o.mode, MODES, 'mode', path);
  const chosenCiphers = checkNames(o.cipher, CIPHER_NAMES, 'cipher', path);
  const modes = chosenModes ?? [chosenCiphers !== undefined ? 'cipherchat' : 'derta'];
  const ciphers = chosenCiphers ?? ['selfcipher'];
  const unused = (key: string, why: string): never => {
    throw new InputError(`'${key}' ${why}`, { field: `${path}.${key}` });
  };
  const has = (m: Mode) => modes.includes(m);
  if (o.cipher !== undefined && !has('cipherchat')) unused('cipher', 'only applies to mode cipherchat');
  if (o.demos !== undefined && !has('cipherchat')) unused('demos', 'only applies to mode cipherchat');
  if (o.shift !== undefined && !(has('cipherchat') && ciphers.includes('caesar'))) {
    unused('shift', 'only applies to cipher caesar (mode cipherchat)');
  }
  if (o.system !== undefined && !has('codeattack') && !has('cipherchat')) {
    unused('system', 'only applies to modes codeattack and cipherchat');
  }
  if (o.format !== undefined && !has('derta')) unused('format', 'only applies to mode derta');
  const out: SelfCipherVariant[] = [];
  for (const mode of [...new Set(modes)]) {
    if (mode === 'derta') out.push({ mode, format: o.format ?? 'chat' });
    else if (mode === 'codeattack') out.push({ mode, system: o.system ?? true });
    else {
      for (const cipher of [...new Set(ciphers)]) {
        out.push({
          mode,
          cipher,
          ...(cipher === 'caesar' ? { shift: o.shift ?? 3 } : {}),
          demos: o.demos ?? 3,
          system: o.system ?? true,
        });
      }
    }
  }
  return out;
}

/** `derta`, `derta-raw`, `codeattack`, `cipherchat-caesar`, `cipherchat-caesar13-1shot-nosys`: part of case ids. */
export function variantLabel(v: SelfCipherVariant): string {
  const nosys = v.system === false ? '-nosys' : '';
  if (v.mode === 'derta') return v.format === 'derta' ? 'derta-raw' : 'derta';
  if (v.mode === 'codeattack') return `codeattack${nosys}`;
  const shift = v.cipher === 'caesar' && v.shift !== 3 ? String(v.shift) : '';
  const demos = v.demos !== 3 ? `-${v.demos}shot` : '';
  return `cipherchat-${v.cipher}${shift}${demos}${nosys}`;
}

/** System text and user text as messages: a system message, or (system: false) one user message, joined by a
 * newline as CipherChat does for models without a chat format. */
function chat(system: string, user: string, asSystem: boolean): Prompt {
  const messages: ChatMessage[] = asSystem
    ? [
        { role: 'system', content: system },
        { role: 'user', content: user },
      ]
    : [{ role: 'user', content: `${system}\n${user}` }];
  return { kind: 'chat', messages };
}

function createAttack(v: SelfCipherVariant, env: AttackEnv, path: string): Attack {
  const base = { name: 'selfcipher', variant: variantLabel(v), options: { ...v } };
  if (v.mode === 'derta') {
    const prefix = loadDertaPrefix(env.dataDir);
    return {
      ...base,
      prompt: (b) =>
        v.format === 'derta'
          ? { kind: 'completion', text: dertaInstText(prefix + b.text) }
          : { kind: 'chat', messages: [{ role: 'user', content: prefix + b.text }] },
    };
  }
  const pack = loadCipherPack(env.dataDir);
  const systemFor = (goal: string): string => pack.systemFor(goal) ?? pack.commonSystem;
  if (v.mode === 'codeattack') {
    return { ...base, prompt: (b) => chat(systemFor(b.text), b.text, v.system !== false) };
  }
  const cipher = makeCipher(v.cipher as CipherName, { shift: v.shift });
  const demos = v.demos ?? 3;
  const available = Math.min(...pack.records.map((r) => pack.demoSet(r.messages[0]!.content).demos.length));
  if (demos > available) {
    throw new InputError(`at most ${available} demonstrations (the pack's sets have ${available})`, {
      field: `${path}.demos`,
    });
  }
  const systems = new Map<string, string>();
  const systemText = (goal: string): string => {
    const source = systemFor(goal);
    let s = systems.get(source);
    if (s === undefined) {
      s = cipherChatSystem(cipher, pack.demoSet(source), demos);
      systems.set(source, s);
    }
    return s;
  };
  return {
    ...base,
    prompt: (b) => chat(systemText(b.text), cipher.encode(b.text), v.system !== false),
    extract: (response) => decodeAnswer(cipher, response),
  };
}

export const selfCipherAttack: AttackFactory<typeof Options> = {
  name: 'selfcipher',
  options: Options,
  create(opts, env, path): Attack[] {
    return expandVariants(opts, path).map((v) => createAttack(v, env, path));
  },
};
