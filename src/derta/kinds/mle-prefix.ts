import { defineKind, safeRow } from './kind.js';

/**
 * MLE with harmful prefix (RecAug, the first term of the paper's Eq. 2): harmful question + the start of the
 * harmful response (context, not trained) → the safe response.
 */
export const mlePrefixKind = defineKind({
  name: 'mle_prefix',
  sizeHelp: 'harmful-prefix MLE rows (default 6000 recaug, 3000 derta)',
  writeOrder: 3,
  variants: { recaug: { mle_prefix: 6000 } },
  open: () => ({ fromTriple: (t, prefix) => prefix && safeRow(t, prefix) }),
  format: { harmfulPrefix: true },
});
