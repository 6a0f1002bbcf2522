import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { buildDertaDataset } from '../../derta/build.js';
import { buildOptions } from '../../derta/build-spec.js';
import { trainHyper } from '../../derta/trainer.js';
import { InputError } from '../../errors.js';
import { sha256 } from '../../util/hash.js';
import type { ArmSetup, LoopContext } from '../context.js';
import type { Stage } from '../stage-runner.js';
import type { HarvestOut } from './harvest.js';
import type { HelpfulOut } from './helpful.js';

/**
 * build: one variant's training data from the harvested triples and the helpful pairs (what `derta build`
 * writes), every variant with the same safety budget (arms.ts) and helpful rows in the configured ratio.
 */

export const BuildOut = z.object({ data: z.string(), counts: z.unknown() });
export type BuildOut = z.infer<typeof BuildOut>;

export interface BuildIn {
  setup: ArmSetup;
  harvest: HarvestOut;
  helpful: HelpfulOut;
}

export const buildStage: Stage<LoopContext, BuildIn, BuildOut> = {
  name: 'build',
  output: BuildOut,
  key: ({ config }, { setup, harvest, helpful }) => ({
    harvest,
    triples_sha: sha256(readFileSync(harvest.triples)),
    helpful,
    build: config.build,
    variant: setup.variant,
    sizes: sizesOf(config, setup, harvest, helpful),
    block: config.train.hyper.block_size ?? null,
    preset: config.train.preset,
    trainer: config.trainer,
  }),
  valid: (c, out) =>
    c.external
      ? existsSync(path.join(out.data, 'axolotl.yaml'))
      : existsSync(path.join(out.data, 'train.jsonl')) || existsSync(path.join(out.data, 'train.parquet')),
  run: async (c, { setup, harvest, helpful }) => {
    const { config, external } = c;
    const dataOut = path.join(setup.dir, 'data');
    const format = external ? 'axolotl' : config.build.format;
    if (format !== 'axolotl' && format !== 'jsonl' && format !== 'parquet') {
      throw new InputError(`the trainer reads jsonl or parquet, not ${format}`, { field: 'build.format' });
    }
    const hyper = trainHyper(config.train);
    const res = buildDertaDataset(
      buildOptions(
        {
          ...config.build,
          variant: setup.variant,
          sizes: sizesOf(config, setup, harvest, helpful),
          ...(setup.reset ? { reset_token: setup.reset } : {}),
          triples: harvest.triples,
          ...(helpful.train ? { helpful: helpful.train } : {}),
          format,
          ...(external ? { axolotl: { base_model: c.baseModel, preset: config.train.preset } } : {}),
        },
        c.o.baseDir,
        {
          tokenizer: c.baseModel,
          blockSize: hyper.block_size,
          epochs: Math.ceil(hyper.epochs),
          out: dataOut,
        },
      ),
    );
    const counts = res.stats['counts'] ?? null;
    c.o.log(`loop: ${setup.prefix}build: ${JSON.stringify(counts)} → ${dataOut}`);
    return { data: dataOut, counts };
  },
};

/** Rows per kind: the arm's safety budget, and helpful rows in the configured ratio to the safety rows. */
function sizesOf(
  config: LoopContext['config'],
  setup: ArmSetup,
  harvest: HarvestOut,
  helpful: HelpfulOut,
): Record<string, number | 'all'> {
  const safetyRows = harvest.count;
  const ratio =
    typeof config.helpful === 'object' && 'ratio' in config.helpful ? config.helpful.ratio : Infinity;
  const helpSize = helpful.train ? Math.ceil(ratio * (setup.arm ? safetyRows : safetyRows * 2)) : 0;
  return {
    ...(setup.arm ? setup.arm.budget(safetyRows) : (config.build.sizes ?? {})),
    ...(helpful.train ? { help: Number.isFinite(helpSize) ? helpSize : ('all' as const) } : {}),
  };
}
