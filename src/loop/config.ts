import { z } from 'zod';
import { DatasetConfig, NamedEntry, TargetSpec } from '../config/schema.js';
import { loadYamlFile } from '../config/load.js';
import { BuildSection, TrainFields } from '../derta/trainer.js';

/**
 * `refusenik loop` config: attack a base model, turn its failures into DeRTa data, train, serve, re-attack
 * the same goals (and a held-out split never trained on), compare. Attack, judge, model and training
 * sections are the same as a run config's and train.yaml's; the loop fills in what one stage hands the next.
 */

const Int = z.number().int();

/** Where the safe response of each harvested triple comes from. */
const SafeSource = z.union([
  /** A file of {instruction|prompt|goal, safe_response|response|output}, matched to goals by text. */
  z.strictObject({ file: z.string().min(1) }),
  /** One fixed refusal for every goal. */
  z.strictObject({ text: z.string().min(1) }),
  /** A generator model (a name from `models`) asked with this prompt; `{{goal}}` is the goal. */
  z.strictObject({
    model: z.string().min(1),
    prompt: z.string().min(1),
    temperature: z.number().min(0).max(2).default(0),
    max_tokens: Int.positive().default(256),
  }),
]);
export type SafeSource = z.infer<typeof SafeSource>;

export const LoopConfig = z.strictObject({
  name: z.string().optional(),
  seed: Int.min(0).default(1),
  dataset: DatasetConfig,
  /** Share of goals held out of training (seeded by goal id): re-attacked, never trained on. */
  holdout: z.number().min(0).lt(1).default(0.25),
  attacks: z.array(NamedEntry).min(1),
  judges: z.array(NamedEntry).default(['keyword']),
  models: z.record(z.string(), TargetSpec).optional(),
  /**
   * Sets run on both models besides the attacks, compared by their judges' scores: helpfulness (the
   * `helpfulness` attack with a gsm8k / mmlu grader) and over-refusal (XSTest with the `xstest` judge).
   */
  evaluations: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes'),
        dataset: DatasetConfig,
        attacks: z.array(NamedEntry).min(1).default(['plain']),
        judges: z.array(NamedEntry).min(1),
      }),
    )
    .default([]),
  /** The judge whose harmful verdicts are the failures to learn from and compare (default: the first). */
  failure_judge: z.string().optional(),
  base: z.strictObject({
    /** The base model's folder (HF format): what is trained, and served unless `served` is given. */
    model: z.string().min(1),
    /** An endpoint that already serves the base model (e.g. vLLM); default: the trainer's own server. */
    served: TargetSpec.optional(),
  }),
  /** Sampling for both attacks of the target (before and after). */
  generation: z
    .strictObject({
      temperature: z.number().min(0).max(2).default(0),
      max_tokens: Int.positive().default(256),
    })
    .default({ temperature: 0, max_tokens: 256 }),
  safe: SafeSource,
  /** Helpfulness pairs {instruction, output} mixed into the training data. */
  helpful: z.string().optional(),
  build: BuildSection.omit({ triples: true, helpful: true, out: true }).default({
    variant: 'derta',
    mode: 'paper',
    template: 'chat',
    seed: 1,
    format: 'jsonl',
    bos: 'auto',
    drop_empty: false,
    shuffle: false,
  }),
  train: TrainFields.omit({ model: true, data: true, build: true, output_dir: true }).default({
    random_init: false,
    preset: 'lora',
    hyper: {},
    seed: 1,
    precision: 'auto',
    loss: 'auto',
    group_by_length: true,
    resume: 'auto',
    torch_compile: false,
    launcher: 'python',
    objective: 'mle',
    extra_args: [],
  }),
  /**
   * Who trains: `refusenik` (the trainer in trainer/), or `axolotl`: the build stage writes axolotl's
   * pretokenised dataset and axolotl.yaml, the loop stops after them, and continues once `serve.target` names
   * an endpoint serving the result.
   */
  trainer: z.enum(['refusenik', 'axolotl']).default('refusenik'),
  serve: z
    .strictObject({
      /** An endpoint that serves the trained model (e.g. vLLM with the adapter); default: the trainer's server. */
      target: TargetSpec.optional(),
      max_new_tokens: Int.positive().default(512),
      precision: z.enum(['auto', 'bf16', 'fp16', 'fp32']).default('auto'),
    })
    .default({ max_new_tokens: 512, precision: 'auto' }),
  /** The refusal-transition probe before and after (needs a completions endpoint with log-probs). */
  transition: z
    .strictObject({
      k: z.array(Int.min(0)).min(1).default([0, 5, 10, 20, 40]),
      refusal_tokens: z.array(z.string().min(1)).min(1).default(['Sorry']),
      top: Int.min(1).max(20).default(20),
      /** Default: the base model's folder. */
      tokenizer: z.string().optional(),
    })
    .optional(),
  /** Where stage outputs go (default: next to the run store, `loops/<loop id>`). */
  workdir: z.string().optional(),
});
export type LoopConfig = z.output<typeof LoopConfig>;

export function loadLoopConfig(file: string): ReturnType<typeof loadYamlFile<typeof LoopConfig>> {
  return loadYamlFile(file, LoopConfig, 'loop config');
}
