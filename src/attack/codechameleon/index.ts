import { z } from 'zod';
import { InputError } from '../../errors.js';
import type { ChatMessage } from '../../types.js';
import { pyFormatPositional } from '../../util/python.js';
import type { Attack, AttackFactory } from '../attack.js';
import { asList, oneOrMany } from '../options.js';
import { ENCRYPTIONS, encrypt, pyStrValue, type Encryption } from './encrypt.js';
import { STYLES, loadChameleonPack, type ChameleonPack, type Style } from './pack.js';

/**
 * CodeChameleon (Lv et al., 2024, arXiv 2402.16717): the goal encrypted by a personal scheme (reversed words,
 * a binary tree of its words, odd/even word positions, words sorted by length) and sent with the Python
 * decryption function, in a text or a code (`ProblemSolver` class) template. The chat is upstream's for API
 * models: `complete_format`'s code-expert system prompt, then the template filled with the decryption
 * function and Python's `str()` of the encrypted goal. Templates and functions come from the pack.
 */

const Options = z.strictObject({
  /** reverse | binary_tree | odd_even | length (or none: the goal in the plain template); a list gives variants. */
  encryption: oneOrMany(z.enum(ENCRYPTIONS)).default('binary_tree'),
  /** text (instructions) or code (the ProblemSolver class to complete); a list gives variants. */
  style: oneOrMany(z.enum(STYLES)).default('code'),
});

/** Upstream's chat for API models: system prompt, then the filled template. */
export function chameleonChat(
  pack: ChameleonPack,
  encryption: Encryption,
  style: Style,
  goal: string,
): ChatMessage[] {
  const shown = pyStrValue(encrypt(goal, encryption));
  let user: string;
  try {
    user =
      encryption === 'none'
        ? pyFormatPositional(pack.withoutEncrypt[style], [shown])
        : pyFormatPositional(pack.withEncrypt[style], [pack.decryption[encryption], shown]);
  } catch (err) {
    throw new InputError(`CodeChameleon ${style} template: ${(err as Error).message}`, {
      file: pack.files.template,
    });
  }
  return [
    { role: 'system', content: pack.system },
    { role: 'user', content: user },
  ];
}

export const codeChameleonAttack: AttackFactory<typeof Options> = {
  name: 'codechameleon',
  options: Options,
  create(opts, env): Attack[] {
    const pack = loadChameleonPack(env.dataDir);
    return asList(opts.encryption).flatMap((encryption) =>
      asList(opts.style).map((style): Attack => ({
        name: 'codechameleon',
        variant: `${encryption}-${style}`,
        options: { encryption, style },
        prompt: (b) => ({ kind: 'chat', messages: chameleonChat(pack, encryption, style, b.text) }),
      })),
    );
  },
};
