import type { TargetSpec } from '../../config/schema.js';
import type { ArmSetup, LoopContext } from '../context.js';
import type { Stage } from '../stage-runner.js';
import { AttackOut, attackSide, runsComplete } from './attack.js';
import type { TrainOut } from './train.js';

/** reattack: the same attacks and evaluations as the attack stage, against the trained model. */

export interface ReattackIn {
  setup: ArmSetup;
  train: TrainOut;
  trained: () => Promise<TargetSpec>;
}

export const reattackStage: Stage<LoopContext, ReattackIn, AttackOut> = {
  name: 'reattack',
  output: AttackOut,
  key: reattackKey,
  valid: runsComplete,
  run: async (c, input) => attackSide(c, afterRunOf(c, input), await input.trained(), input.setup.label),
};

function reattackKey(
  { config, attackKey }: LoopContext,
  { setup, train }: ReattackIn,
): Record<string, unknown> {
  return { attack: attackKey, train, serve: config.serve, arm: setup.arm?.name ?? null };
}

/** The trained model's run id (its key's hash: a new model or a changed attack section is a new run). */
function afterRunOf(c: LoopContext, input: ReattackIn): string {
  return c.runIdOf('after', reattackKey(c, input));
}
