import { defineKind, safetyTurn } from './kind.js';

/**
 * Reinforced transition optimisation (the second term of the paper's Eq. 2): harmful question + the whole
 * harmful response, every response position (the end of sequence included) labelled with the refusal token.
 * Every triple gives one, short responses too.
 */
export const rtoKind = defineKind({
  name: 'rto',
  sizeHelp: 'RTO rows (default 3000 derta, 6000 rto)',
  writeOrder: 1,
  variants: {
    // Upstream's DeRTa: harmful-prefix MLE and RTO rows from the same first 3,000 questions (a triple counts as
    // two instances, so 3,000 + 3,000 against vanilla's 6,000).
    derta: { mle_prefix: 3000, rto: 3000 },
    // RTO only (no upstream generator): the same 6,000-row safety budget as RTO rows.
    rto: { rto: 6000 },
  },
  open: () => ({
    fromTriple: (t) => ({ ...safetyTurn(t), harmfulPrefix: '', response: t.output }),
  }),
  format: { harmfulPrefix: false },
  label: { target: (ids) => ids.refusalId, subsampled: true, textSafe: true },
});
