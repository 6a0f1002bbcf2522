import { z } from 'zod';
import type { TargetSpec } from '../../config/schema.js';
import type { Stage } from '../stage-runner.js';
import type { LoopContext } from '../context.js';
import { runAgainst } from '../measure.js';

/** attack: the configured attacks, then each evaluation set, against the base model, as stored runs. */

export const AttackOut = z.object({
  run_id: z.string(),
  cases: z.number(),
  evaluations: z.record(z.string(), z.string()),
});
export type AttackOut = z.infer<typeof AttackOut>;

export const attackStage: Stage<LoopContext, void, AttackOut> = {
  name: 'attack',
  output: AttackOut,
  key: (c) => c.attackKey,
  valid: runsComplete,
  run: async (c) => attackSide(c, c.beforeRun, await c.serving.base(), 'base'),
};

/** Whether the attack run and every evaluation run of a side are complete. */
export function runsComplete(c: LoopContext, out: AttackOut): boolean {
  return [out.run_id, ...Object.values(out.evaluations)].every(
    (id) => c.store.getRun(id)?.status === 'complete',
  );
}

/** The attacks, then each evaluation set, against one model. */
export async function attackSide(
  c: LoopContext,
  runId: string,
  target: TargetSpec,
  label: string,
): Promise<AttackOut> {
  const { config, loopId } = c;
  const main = { dataset: config.dataset, attacks: config.attacks, judges: config.judges };
  const cases = await runAgainst(c.run, runId, target, main, `${config.name ?? loopId} (${label})`);
  const evaluations: Record<string, string> = {};
  for (const e of config.evaluations) {
    evaluations[e.name] = `${runId}-${e.name}`;
    await runAgainst(c.run, `${runId}-${e.name}`, target, e, `${config.name ?? loopId} (${label}) ${e.name}`);
  }
  return { run_id: runId, cases, evaluations };
}
