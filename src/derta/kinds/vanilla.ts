import { defineKind, safeRow } from './kind.js';

/**
 * Vanilla safety tuning: harmful question → safe response. Upstream makes one only where the triple has a
 * harmful prefix too (responses of three words or more), which this keeps.
 */
export const vanillaKind = defineKind({
  name: 'vanilla',
  sizeHelp: 'question → safe response rows (default: 6000 for vanilla)',
  writeOrder: 2,
  variants: { vanilla: { vanilla: 6000 } },
  open: () => ({ fromTriple: (t, prefix) => prefix && safeRow(t) }),
  format: { harmfulPrefix: false },
});
