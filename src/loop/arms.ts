import type { TrainObjective } from '../derta/trainer.js';
import type { DertaVariant } from '../derta/types.js';
import type { ARM_NAMES } from './config.js';

/**
 * The training variants a loop can compare on the same harvested data, seed and budget (the DeRTa paper's
 * Table 4 ablation, plus the two later defences the project implements). Each is a data mixture (what
 * `derta build` writes) and a training objective; a new variant is one entry here.
 */
export type ArmName = (typeof ARM_NAMES)[number];

export interface Arm {
  name: ArmName;
  /** What the report calls it. */
  title: string;
  variant: DertaVariant;
  objective: TrainObjective;
  /**
   * Safety rows per harvested triple, split over the kinds the variant takes: every arm gets the same safety
   * budget (the paper counts a triple as two instances, so vanilla takes 6K questions and DeRTa 3K + 3K).
   */
  budget: (triples: number) => { vanilla: number; mle_prefix: number; rto: number; backtrack: number };
}

const half = (n: number): number => Math.ceil(n / 2);

export const ARMS: Record<ArmName, Arm> = {
  vanilla: {
    name: 'vanilla',
    title: 'vanilla safety SFT (harmful question → safe response)',
    variant: 'vanilla',
    objective: 'mle',
    budget: (n) => ({ vanilla: n, mle_prefix: 0, rto: 0, backtrack: 0 }),
  },
  recaug: {
    name: 'recaug',
    title: 'MLE with harmful prefix',
    variant: 'recaug',
    objective: 'mle',
    budget: (n) => ({ vanilla: 0, mle_prefix: n, rto: 0, backtrack: 0 }),
  },
  rto: {
    name: 'rto',
    title: 'RTO only (Sorry at every harmful position)',
    variant: 'rto',
    objective: 'mle',
    budget: (n) => ({ vanilla: 0, mle_prefix: 0, rto: n, backtrack: 0 }),
  },
  derta: {
    name: 'derta',
    title: 'DeRTa (harmful prefix + RTO)',
    variant: 'derta',
    objective: 'mle',
    budget: (n) => ({ vanilla: 0, mle_prefix: half(n), rto: half(n), backtrack: 0 }),
  },
  backtrack: {
    name: 'backtrack',
    title: 'backtracking (Zhang et al. 2025: harmful prefix → [RESET] → safe response)',
    variant: 'backtrack',
    objective: 'mle',
    budget: (n) => ({ vanilla: half(n), mle_prefix: 0, rto: 0, backtrack: half(n) }),
  },
  constrained: {
    name: 'constrained',
    title: 'constrained objective (Qi et al. 2024) on harmful-prefix data',
    variant: 'recaug',
    objective: 'constrained',
    budget: (n) => ({ vanilla: 0, mle_prefix: n, rto: 0, backtrack: 0 }),
  },
};
