import { z } from 'zod';
import { userPrompt, type Attack, type AttackFactory } from './attack.js';

const PlainOptions = z.strictObject({
  /** An optional system message before the goal. */
  system: z.string().optional(),
});

/** The baseline: the goal itself as the user message. */
export const plainAttack: AttackFactory<typeof PlainOptions> = {
  name: 'plain',
  options: PlainOptions,
  create(opts, _env, _path): Attack[] {
    return [
      {
        name: 'plain',
        variant: opts.system !== undefined ? 'system' : 'plain',
        options: opts,
        prompt: (b) => userPrompt(b.text, opts.system),
      },
    ];
  },
};
