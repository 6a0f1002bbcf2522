import { defineKind } from './kind.js';

/** Helpfulness MLE: an instruction → its helpful answer (upstream: uncensored Evol-Instruct / WizardLM). */
export const helpKind = defineKind({
  name: 'help',
  sizeHelp: 'helpfulness rows (default all)',
  writeOrder: 0,
  defaultSize: 'all',
  open: () => ({
    fromHelpful: (h) => ({ question: h.instruction, harmfulPrefix: '', response: h.output }),
  }),
  format: { harmfulPrefix: false },
});
