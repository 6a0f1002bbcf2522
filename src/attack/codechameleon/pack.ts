import { readFileSync } from 'node:fs';
import { InputError } from '../../errors.js';
import { packFile } from '../../data/packs.js';
import { PythonExtractError } from '../../data/python/extract.js';
import {
  assignedString,
  literalRuns,
  readStatements,
  tokenText,
  type PyStatement,
} from '../../data/python/statements.js';
import type { Encryption } from './encrypt.js';

/**
 * CodeChameleon's prompt pieces, read from the codechameleon pack at run time: the text and code templates
 * (module strings of `template.py`), the decryption function shown for each encryption (`decrypt.py`, picked
 * by the `decryption = NAME` branches of `get_prompts_text` / `get_prompts_code`), and the code-expert system
 * prompt of `utils.complete_format` (the `code_sys_helpful` string API models get).
 */

export const STYLES = ['text', 'code'] as const;
export type Style = (typeof STYLES)[number];

export interface ChameleonPack {
  /** Templates with two positional fields (decryption function, encrypted goal), per style. */
  withEncrypt: Record<Style, string>;
  /** Templates with one positional field (the goal), for `none`. */
  withoutEncrypt: Record<Style, string>;
  /** The decryption function text per encryption. */
  decryption: Record<Exclude<Encryption, 'none'>, string>;
  /** `complete_format`'s system prompt for API (gpt) models. */
  system: string;
  files: { template: string; decrypt: string; utils: string };
}

const RULES = ['reverse', 'binary_tree', 'odd_even', 'length'] as const;

function statementsOf(file: string): PyStatement[] {
  return readStatements(readFileSync(file, 'utf8'), file);
}

/** `decryption = NAME` under `if encrypt_rule == "<rule>":` in `fn`: rule → NAME. */
function decryptionNames(statements: readonly PyStatement[], fn: string, file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of statements) {
    const [def, ...branches] = s.blocks;
    if (!def || !tokenText(def.header).startsWith(`def ${fn}(`)) continue;
    const [a, eq, name, ...rest] = s.tokens;
    if (a?.value !== 'decryption' || eq?.value !== '=' || name?.type !== 'name' || rest.length) continue;
    const guard = branches[branches.length - 1];
    const rules =
      guard && tokenText(guard.header).startsWith('if encrypt_rule==') ? literalRuns(guard.header, file) : [];
    if (rules.length !== 1)
      throw new PythonExtractError('decryption assigned outside an encrypt_rule branch', file, s.line);
    out.set(rules[0] as string, name.value);
  }
  return out;
}

export function readChameleonPack(files: ChameleonPack['files']): ChameleonPack {
  try {
    const template = statementsOf(files.template);
    const decrypt = statementsOf(files.decrypt);
    const utils = statementsOf(files.utils);
    const names = decryptionNames(template, 'get_prompts_text', files.template);
    const codeNames = decryptionNames(template, 'get_prompts_code', files.template);
    const decryption = {} as Record<(typeof RULES)[number], string>;
    for (const rule of RULES) {
      const name = names.get(rule);
      if (!name || codeNames.get(rule) !== name) {
        throw new PythonExtractError(
          `no single decryption for encrypt_rule '${rule}' in both prompt styles`,
          files.template,
        );
      }
      decryption[rule] = assignedString(decrypt, name, files.decrypt);
    }
    const str = (name: string) => assignedString(template, name, files.template);
    return {
      withEncrypt: { text: str('text_template_with_encrypt'), code: str('code_template_with_encrypt') },
      withoutEncrypt: {
        text: str('text_template_without_encrypt'),
        code: str('code_template_without_encrypt'),
      },
      decryption,
      system: assignedString(utils, 'code_sys_helpful', files.utils, 'complete_format'),
      files,
    };
  } catch (err) {
    if (err instanceof PythonExtractError) throw new InputError(err.message);
    throw err;
  }
}

const cache = new Map<string, ChameleonPack>();

/** The codechameleon pack's prompt pieces, read once per data folder. */
export function loadChameleonPack(dataDir: string): ChameleonPack {
  const files = {
    template: packFile('codechameleon', 'template.py', dataDir),
    decrypt: packFile('codechameleon', 'decrypt.py', dataDir),
    utils: packFile('codechameleon', 'utils.py', dataDir),
  };
  let pack = cache.get(files.template);
  if (!pack) {
    pack = readChameleonPack(files);
    cache.set(files.template, pack);
  }
  return pack;
}
