import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { TargetSpec } from '../../config/schema.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import type { LoopContext } from '../context.js';
import { helpfulFromFile, helpfulFromRun, splitHelpful, type HelpfulRecord } from '../helpful.js';
import { runAgainst } from '../measure.js';
import type { Stage } from '../stage-runner.js';

/**
 * helpful: the helpful pairs mixed into training (the base model's own answers to benign instructions, or a
 * user's file), and a share of them held out to measure retention.
 */

export const HelpfulOut = z.object({
  source: z.string(),
  run_id: z.string().nullable(),
  train: z.string().nullable(),
  heldout: z.string().nullable(),
  train_count: z.number(),
  heldout_count: z.number(),
  left_out: z.record(z.string(), z.number()),
});
export type HelpfulOut = z.infer<typeof HelpfulOut>;

const helpfulKey = ({ config, engine }: LoopContext): Record<string, unknown> => ({
  helpful: config.helpful,
  seed: config.seed,
  engine,
  base: config.base,
});

export const helpfulStage: Stage<LoopContext, void, HelpfulOut> = {
  name: 'helpful',
  output: HelpfulOut,
  key: helpfulKey,
  valid: (c, out) =>
    (out.train === null || existsSync(out.train)) &&
    (out.run_id === null || c.store.getRun(out.run_id)?.status === 'complete'),
  run: async (c) => {
    const { config, loopId, workdir } = c;
    const h = config.helpful;
    if (h === 'none')
      return {
        source: 'none',
        run_id: null,
        train: null,
        heldout: null,
        train_count: 0,
        heldout_count: 0,
        left_out: {},
      };
    let pairs: HelpfulRecord[];
    let runId: string | null = null;
    let leftOut: Record<string, number> = {};
    let share = 0;
    if (typeof h === 'string' || 'file' in h) {
      pairs = helpfulFromFile(c.rel(typeof h === 'string' ? h : h.file));
      share = typeof h === 'string' ? 0 : h.heldout;
    } else {
      runId = c.runIdOf('helpful', helpfulKey(c));
      const target = { ...(await c.serving.base()), max_tokens: h.distill.max_tokens } as TargetSpec;
      await runAgainst(
        c.run,
        runId,
        target,
        { dataset: h.distill.dataset, attacks: ['plain'], judges: ['keyword'] },
        `${config.name ?? loopId} (base) helpful distillation`,
      );
      const got = helpfulFromRun(c.store, runId);
      pairs = got.pairs;
      leftOut = { cut_at_max_tokens: got.cut, degenerate: got.degenerate, empty: got.empty };
      share = h.heldout;
    }
    const { train, heldout } = splitHelpful(pairs, config.seed, share);
    const trainFile = path.join(workdir, 'helpful.jsonl');
    const heldoutFile = path.join(workdir, 'helpful-heldout.jsonl');
    const jsonl = (rows: readonly HelpfulRecord[]): string =>
      rows.map((p) => JSON.stringify(p)).join('\n') + (rows.length ? '\n' : '');
    writeFileAtomic(trainFile, jsonl(train));
    writeFileAtomic(heldoutFile, jsonl(heldout));
    c.o.log(
      `loop: helpful: ${train.length} pairs to train on, ${heldout.length} held out for retention` +
        (runId ? ` (left out: ${JSON.stringify(leftOut)})` : ''),
    );
    return {
      source: runId ? 'distill' : 'file',
      run_id: runId,
      train: train.length ? trainFile : null,
      heldout: heldout.length ? heldoutFile : null,
      train_count: train.length,
      heldout_count: heldout.length,
      left_out: leftOut,
    };
  },
};
