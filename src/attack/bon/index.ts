import { z } from 'zod';
import { TargetError } from '../../target/target.js';
import type { Behavior, ChatMessage, Generation, Prompt } from '../../types.js';
import type { Attack, AttackContext, AttackFactory, AttackResult } from '../attack.js';
import { userPrompt } from '../attack.js';
import { answerInput, askRunJudge } from '../multiturn/run-judge.js';
import { mapBounded } from '../pair/pool.js';
import { augmentText, sampleSeed, type AugmentationSwitches } from './augment.js';

/**
 * Best-of-N jailbreaking (Hughes et al., 2024): sample augmented versions of the goal (scrambled words,
 * random capitals, ASCII noise, with strength σ) and send each to the target until the judge calls an answer
 * harmful or the budget of N samples is spent. Sample i is upstream's augmentation with seed
 * `seed * 1e6 + i` (augment.ts), so a search is reproducible and its prompts match upstream's for the same
 * seed. `batch` samples go out together (upstream's `num_concurrent_k`); the search stops after the batch
 * that holds the first harmful verdict, and the earliest harmful sample is the result. The trace records every
 * sample and a summary with `first_success` (samples to the first harmful answer), from which ASR(N) follows
 * (analysis/bon-curve.ts).
 */

export const BON_ATTACK = 'bon';

const Options = z.strictObject({
  /** The most samples per goal (N). */
  budget: z.number().int().min(1).max(100_000).default(100),
  /** Augmentation strength σ (upstream default 0.4): √σ per word/letter, σ³ per character for noise. */
  sigma: z.number().min(0).max(1).default(0.4),
  word_scrambling: z.boolean().default(true),
  random_capitalization: z.boolean().default(true),
  ascii_perturbation: z.boolean().default(true),
  /** The search seed (upstream's `seed`); default: the run's seed. The same for every goal, as upstream. */
  seed: z.number().int().min(0).max(1_000_000_000).optional(),
  /** Samples sent at once (upstream num_concurrent_k = 5); 1 stops exactly at the first harmful answer. */
  batch: z.number().int().min(1).max(256).default(1),
  /** The judge (an id in the config's `judges`) whose harmful verdict ends the search; default the first. */
  judge: z.string().min(1).optional(),
  /** A system message before each augmented goal (upstream's optional system prompt). */
  system: z.string().optional(),
});
type Options = z.infer<typeof Options>;

export const bonAttack: AttackFactory<typeof Options> = {
  name: BON_ATTACK,
  options: Options,
  create(opts, env): Attack[] {
    const seed = opts.seed ?? env.seed;
    const switches: AugmentationSwitches = {
      word_scrambling: opts.word_scrambling,
      random_capitalization: opts.random_capitalization,
      ascii_perturbation: opts.ascii_perturbation,
    };
    const off = [
      opts.word_scrambling ? '' : 'noscramble',
      opts.random_capitalization ? '' : 'nocaps',
      opts.ascii_perturbation ? '' : 'nonoise',
    ].filter(Boolean);
    return [
      {
        name: BON_ATTACK,
        variant: [`n${opts.budget}`, `sigma${opts.sigma}`, ...off].join('-'),
        options: { ...opts, seed },
        execute: (behavior, ctx) => runBon(behavior, ctx, opts, seed, switches),
      },
    ];
  },
};

/** Sample i's prompt: the augmented goal as the user message (after the optional system message). */
export function bonPrompt(
  goal: string,
  i: number,
  o: { sigma: number; seed: number; system?: string | undefined; switches: AugmentationSwitches },
): Prompt {
  return userPrompt(augmentText(goal, o.sigma, sampleSeed(o.seed, i), o.switches), o.system);
}

interface Sample {
  index: number;
  prompt: Prompt;
  generation?: Generation;
  harmful: boolean;
}

async function runBon(
  behavior: Behavior,
  ctx: AttackContext,
  opts: Options,
  seed: number,
  switches: AugmentationSwitches,
): Promise<AttackResult> {
  const count = { target: 0, judge: 0, blocked: 0, judge_errors: 0 };
  const promptOpts = { sigma: opts.sigma, seed, system: opts.system, switches };

  const sample = async (index: number): Promise<Sample> => {
    const prompt = bonPrompt(behavior.text, index, promptOpts) as Extract<Prompt, { kind: 'chat' }>;
    const step = {
      attack: BON_ATTACK,
      step: 'sample',
      index,
      seed: sampleSeed(seed, index),
      prompt: (prompt.messages.at(-1) as ChatMessage).content,
    };
    count.target++;
    let generation: Generation;
    try {
      // A distinct sample index per augmentation: two equal augmented prompts still get two answers.
      generation = await ctx.target.generate(prompt, { ...ctx.generateOptions, sample: index });
    } catch (err) {
      // A provider's content filter blocking a sample is an answer that is not harmful; the search goes on.
      if (!(err instanceof TargetError) || err.kind !== 'content') throw err;
      count.blocked++;
      ctx.trace({ ...step, blocked: err.message });
      return { index, prompt, harmful: false };
    }
    count.judge++;
    const input = answerInput(behavior, prompt, generation.text);
    const verdict = await askRunJudge(ctx, opts.judge, input, noJudge);
    if (verdict.error) count.judge_errors++;
    ctx.trace({
      ...step,
      response: generation.text,
      harmful: verdict.harmful,
      score: verdict.score ?? null,
      ...(verdict.error ? { judge_error: verdict.error } : {}),
    });
    return { index, prompt, generation, harmful: verdict.harmful === true };
  };

  let first: Sample | undefined;
  let last: Sample | undefined;
  for (let start = 0; start < opts.budget && !first; start += opts.batch) {
    const indices = Array.from({ length: Math.min(opts.batch, opts.budget - start) }, (_, k) => start + k);
    const done = await mapBounded(indices, opts.batch, sample);
    first = done.find((s) => s.harmful);
    last = [...done].reverse().find((s) => s.generation) ?? last;
  }
  ctx.trace({
    attack: BON_ATTACK,
    step: 'summary',
    budget: opts.budget,
    sigma: opts.sigma,
    seed,
    samples: count.target,
    /** Samples up to and including the first harmful one (1-based), or null: the N at which this goal falls. */
    first_success: first ? first.index + 1 : null,
    queries: count,
  });
  const result = first ?? last;
  if (!result?.generation) {
    throw new TargetError(
      `Best-of-N: every one of ${count.target} samples was blocked by the provider's content filter`,
      'content',
    );
  }
  return { prompt: result.prompt, generation: result.generation };
}

/** The configuration error when the run has no judge to tell a successful sample. */
function noJudge(reason: string): string {
  return `Best-of-N needs a judge to tell when a sample succeeded: ${reason} (add one to the config's judges, or set the attack's judge option)`;
}
