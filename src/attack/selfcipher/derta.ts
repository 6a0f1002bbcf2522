import { InputError } from '../../errors.js';
import { readStringField } from '../../dataset/records.js';
import { packFile } from '../../data/packs.js';

/**
 * DeRTa's SelfCipher prompts (`data/test/safety_selfcipher.json`, spec §4): a fixed text (CipherChat's
 * "Cipher Code" role prompt, 5 harmful demonstrations, a blank line) followed by the question, one record per
 * question of `safety_illegal_instructions_200.json`, in the same order.
 *
 * The fixed text exists upstream only inside that file, so it is read from there at run time, without using
 * the questions: it is the longest prefix that every record shares, cut back to its last blank line ("\n\n").
 * Every record must then be that prefix plus a non-empty question. Rebuilding all 200 records from the 200 base
 * questions reproduces the file byte for byte (test/eval-attacks/selfcipher.test.ts).
 */

export const DERTA_SELFCIPHER_FILE = 'data/test/safety_selfcipher.json';

/** The fixed text before each question: the records' common prefix, up to and including its last "\n\n". */
export function sharedPrefix(prompts: readonly string[], file: string): string {
  if (prompts.length < 2) {
    throw new InputError(
      `need at least 2 records to find the fixed SelfCipher text, found ${prompts.length}`,
      {
        file,
      },
    );
  }
  let common = prompts[0] as string;
  for (const p of prompts) {
    let n = 0;
    while (n < common.length && n < p.length && common.charCodeAt(n) === p.charCodeAt(n)) n++;
    common = common.slice(0, n);
  }
  const cut = common.lastIndexOf('\n\n');
  if (cut < 0) throw new InputError('the records share no text ending in a blank line', { file });
  const prefix = common.slice(0, cut + 2);
  prompts.forEach((p, i) => {
    if (p.length === prefix.length) {
      throw new InputError('record has no question after the fixed text', {
        file,
        line: i + 1,
        field: 'question',
      });
    }
  });
  return prefix;
}

/** The fixed SelfCipher text of the DeRTa pack in `dataDir`. */
export function loadDertaPrefix(dataDir: string): string {
  const file = packFile('derta', DERTA_SELFCIPHER_FILE, dataDir);
  return sharedPrefix(readStringField(file, 'question', 'json'), file);
}

/** DeRTa `evaluation.py`'s default raw-text template around a safety prompt (spec §4; `[\INST]` as upstream). */
export function dertaInstText(prompt: string): string {
  return `[INST] \n${prompt}\n\n [\\INST]`;
}
