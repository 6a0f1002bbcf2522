import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { packFile } from '../../data/packs.js';
import { InputError } from '../../errors.js';

/**
 * PAIR's attacker prompts, read at run time from the `pair` data pack (`prompts/pair_system_prompts.json`,
 * extracted from the upstream repository) or from a user file of the same shape. Placeholders are
 * `{{goal}}`, `{{target_str}}`, `{{target_response}}` and `{{score}}`.
 */

const PromptFile = z.object({
  attacker_system_prompts: z
    .record(z.string(), z.string())
    .refine((r) => Object.keys(r).length > 0, 'is empty'),
  attacker_init_message: z.string(),
  attacker_feedback_message: z.string(),
});
export type PairPrompts = z.infer<typeof PromptFile>;

export const PACK_PROMPTS = 'prompts/pair_system_prompts.json';

export function loadPairPrompts(dataDir: string, userFile?: string): PairPrompts {
  const file = userFile ?? packFile('pair', PACK_PROMPTS, dataDir);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(`cannot read PAIR prompts: ${(err as Error).message}`, { file });
  }
  const parsed = PromptFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(issue?.message ?? 'invalid', { file, field: issue?.path.join('.') });
  }
  return parsed.data;
}
