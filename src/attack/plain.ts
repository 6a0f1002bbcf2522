import { z } from 'zod';
import { parseWith } from '../config/validate.js';
import type { Attack, AttackFactory } from './attack.js';

const PlainOptions = z.strictObject({
  /** An optional system message before the goal. */
  system: z.string().optional(),
});

/** The baseline: the goal itself as the user message. */
export const plainAttack: AttackFactory = {
  name: 'plain',
  create(options, _env, path): Attack[] {
    const opts = parseWith(PlainOptions, options ?? {}, [path]);
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
