import { z } from 'zod';
import type { Attack, AttackFactory } from './attack.js';

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
        prompt: (b) => ({
          kind: 'chat',
          messages: [
            ...(opts.system !== undefined ? [{ role: 'system' as const, content: opts.system }] : []),
            { role: 'user' as const, content: b.text },
          ],
        }),
      },
    ];
  },
};
