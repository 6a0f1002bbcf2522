import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { RuntimeFailure } from '../../errors.js';
import { loadTokenizer } from '../../text/tokenizer.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import type { LoopContext } from '../context.js';
import {
  depthAnswers,
  failuresOf,
  HARVEST_FILTER_VERSION,
  safeResponses,
  screenFailures,
  type Triple,
} from '../harvest.js';
import type { Stage } from '../stage-runner.js';
import type { AttackOut } from './attack.js';

/**
 * harvest: the base model's own harmful answers on the training goals become DeRTa triples (with a safe
 * response each), and one natural-language harmful answer per goal, held-out goals included, is kept for the
 * depth and transition probes (nothing is trained on those: they measure whether refusing mid-answer
 * generalises).
 */

export const HarvestOut = z.object({
  triples: z.string(),
  count: z.number(),
  goals: z.number(),
  holdout_goals: z.number(),
  train_goals: z.number(),
  judge: z.string(),
  failures: z.number(),
  dropped: z.record(z.string(), z.number()),
  depth_goals: z.string().nullable(),
  harmful: z.string().nullable(),
  depth_count: z.number(),
});
export type HarvestOut = z.infer<typeof HarvestOut>;

export const harvestStage: Stage<LoopContext, { attack: AttackOut }, HarvestOut> = {
  name: 'harvest',
  output: HarvestOut,
  key: ({ config, failureJudge }, { attack }) => ({
    attack,
    safe: config.safe,
    harvest: config.harvest,
    holdout: config.holdout,
    judge: failureJudge,
    seed: config.seed,
    depth: config.depth ?? null,
    transition: config.transition ?? null,
    // The content filter's own version: a better filter redoes the harvest (and what follows).
    filter: HARVEST_FILTER_VERSION,
  }),
  valid: (_c, out) => existsSync(out.triples),
  run: async (c) => {
    const { config, failureJudge, workdir } = c;
    const all = failuresOf(c.store, c.beforeRun, failureJudge);
    const { kept, dropped } = screenFailures(all, config.harvest);
    const failures = kept.filter((f) => !c.holdout.has(f.behaviorId));
    if (failures.length === 0) {
      throw new RuntimeFailure(
        `the base model has no failures with harmful content on the training goals by judge '${failureJudge}' ` +
          `(${all.length} failures, dropped: ${JSON.stringify(dropped)}): nothing to learn from`,
      );
    }
    const goals = [...new Set(failures.map((f) => f.goal))];
    const safe = await safeResponses(
      config.safe,
      goals,
      c.rel,
      (name) => c.models.resolve(name, `models.${name}`, 'attacker', 'safe.model'),
      c.dataDir,
    );
    const triples: Triple[] = failures.map((f) => {
      const s = safe.get(f.goal) as { text: string; source: string };
      return {
        instruction: config.harvest.instruction === 'prompt' && f.prompt ? f.prompt : f.goal,
        ...(f.context ? { messages: f.context } : {}),
        output: f.response,
        safe_response: s.text,
        case_id: f.caseId,
        attack: f.attack,
        variant: f.variant,
        safe_source: s.source,
      };
    });
    const triplesFile = path.join(workdir, 'triples.jsonl');
    writeFileAtomic(triplesFile, triples.map((t) => JSON.stringify(t)).join('\n') + '\n');
    let depthGoals: string | null = null;
    let harmful: string | null = null;
    const ks = [...(config.depth?.k ?? []), ...(config.transition?.k ?? [])];
    let depthCount = 0;
    if (ks.length) {
      const tok = loadTokenizer(
        config.transition?.tokenizer ? c.rel(config.transition.tokenizer) : c.baseModel,
      );
      const answers = depthAnswers(kept, (t) => tok.encode(t, false).length, Math.max(...ks) + 1);
      depthCount = answers.size;
      depthGoals = path.join(workdir, 'depth-goals.jsonl');
      harmful = path.join(workdir, 'harmful.jsonl');
      const chosen = c.behaviors.filter((b) => answers.has(b.id));
      writeFileAtomic(
        depthGoals,
        chosen.map((b) => JSON.stringify({ id: b.id, goal: b.text })).join('\n') + '\n',
      );
      writeFileAtomic(
        harmful,
        chosen
          .map((b) => JSON.stringify({ id: b.id, prompt: b.text, response: answers.get(b.id)?.response }))
          .join('\n') + '\n',
      );
    }
    c.o.log(
      `loop: harvest: ${triples.length} triples from ${goals.length} training goals; left out ` +
        `${Object.entries(dropped)
          .map(([k, v]) => `${v} ${k}`)
          .join(', ')} of ${all.length} failures` +
        (ks.length ? `; ${depthCount} goals have an answer for the depth probes` : ''),
    );
    return {
      triples: triplesFile,
      count: triples.length,
      goals: goals.length,
      holdout_goals: c.holdout.size,
      train_goals: c.behaviors.length - c.holdout.size,
      judge: failureJudge,
      failures: all.length,
      dropped,
      depth_goals: depthGoals,
      harmful,
      depth_count: depthCount,
    };
  },
};
