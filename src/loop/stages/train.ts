import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { stepBar, trainModel, type TrainerEvent } from '../../derta/trainer.js';
import { canonicalJson, sha256 } from '../../util/hash.js';
import { trainConfig, type ArmSetup, type LoopContext } from '../context.js';
import type { Stage } from '../stage-runner.js';
import type { BuildOut } from './build.js';

/**
 * train: the trainer on one variant's data (or, with an external trainer, the command to run), with its loss
 * curve and whether it converged. One model folder per training input, so an interrupted run resumes from its
 * own checkpoints.
 */

export const TrainOut = z.object({
  model_dir: z.string().optional(),
  adapter: z.boolean().optional(),
  steps: z.number().optional(),
  first_loss: z.number().nullable().optional(),
  last_loss: z.number().nullable().optional(),
  converged: z.boolean().nullable().optional(),
  tokens: z.unknown().optional(),
  external: z.string().optional(),
  axolotl_config: z.string().optional(),
  command: z.string().optional(),
});
export type TrainOut = z.infer<typeof TrainOut>;

export interface TrainIn {
  setup: ArmSetup;
  build: BuildOut;
}

const trainKey = (
  { config, baseModel }: LoopContext,
  { setup, build }: TrainIn,
): Record<string, unknown> => ({
  build,
  train: config.train,
  objective: setup.objective,
  base: baseModel,
});

export const trainStage: Stage<LoopContext, TrainIn, TrainOut> = {
  name: 'train',
  output: TrainOut,
  key: (c, input) => ({ ...trainKey(c, input), trainer: c.config.trainer }),
  valid: (_c, out) => existsSync(String(out.model_dir ?? out.axolotl_config)),
  run: async (c, input) => {
    const { setup, build } = input;
    if (c.external) {
      const cfg = path.join(build.data, 'axolotl.yaml');
      return { external: 'axolotl', axolotl_config: cfg, command: `axolotl train ${cfg}` };
    }
    const modelDir = path.join(setup.dir, `model-${sha256(canonicalJson(trainKey(c, input))).slice(0, 10)}`);
    const tc = trainConfig(c.config, c.baseModel, modelDir, { data: build.data }, setup.objective);
    const losses: number[] = [];
    const bar = stepBar(c.o.progress);
    const { done, last } = await trainModel(tc, c.o.baseDir, {
      onEvent: (e: TrainerEvent) => {
        bar(e);
        if (e.event === 'step' && typeof e['loss'] === 'number') losses.push(e['loss']);
      },
    });
    const converged = convergence(losses);
    const first = losses[0] ?? null;
    const lastLoss = typeof last?.['loss'] === 'number' ? last['loss'] : null;
    c.o.log(
      `loop: ${setup.prefix}train: ${Number(done['step'])} steps, loss ${first?.toFixed(3) ?? '?'} → ` +
        `${lastLoss?.toFixed(3) ?? '?'}` +
        (converged === false
          ? ' — still falling at the end: not converged (more epochs or a higher learning rate?)'
          : ''),
    );
    return {
      model_dir: modelDir,
      adapter: done['adapter'] === true,
      steps: Number(done['step'] ?? 0),
      first_loss: first,
      last_loss: lastLoss,
      converged,
      tokens: done['tokens'] ?? null,
    };
  },
};

/** Whether training converged: the loss of the last fifth of the logged steps no longer falls by 10%. */
export function convergence(losses: readonly number[]): boolean | null {
  if (losses.length < 10) return null;
  const fifth = Math.max(2, Math.floor(losses.length / 5));
  const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const lastPart = mean(losses.slice(-fifth));
  const before = mean(losses.slice(-2 * fifth, -fifth));
  return lastPart > before * 0.9;
}
