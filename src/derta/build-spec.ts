import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_BLOCK_SIZE, type DertaBuildOptions } from './build.js';
import { readTemplateFile } from '../text/chat-template.js';
import { DERTA_FORMATS } from './export.js';
import { EXAMPLE_KINDS, type ExampleKind } from './kinds/index.js';
import { DERTA_VARIANTS, PREFIX_MODES } from './types.js';

/**
 * The one DeRTa build schema: what `derta build` takes as flags, train.yaml as its `build:` section and a
 * loop config as its `build:` section, in the YAML spelling. `buildOptions` turns it into the builder's
 * options, resolving paths against the file it came from.
 */

const Size = z.union([z.int().min(0), z.literal('all')]);
/** Rows per kind (kinds/), each optional: `{help: 0, rto: 'all'}`. */
const Sizes = z.strictObject(
  Object.fromEntries(EXAMPLE_KINDS.map((k) => [k, Size.optional()])) as Record<
    ExampleKind,
    z.ZodOptional<typeof Size>
  >,
);

export const DertaBuildSpec = z.strictObject({
  /** Safety triples {instruction, output (harmful), safe_response}: JSON, JSONL or CSV. */
  triples: z.string(),
  /** Helpfulness pairs {instruction, output}. */
  helpful: z.string().optional(),
  /** A model folder with tokenizer.json (+ tokenizer_config.json), or the file; train.yaml: default the model. */
  tokenizer: z.string().optional(),
  /** Input column renames, e.g. {instruction: prompt, output: unsafe}. */
  triple_fields: z
    .strictObject({ instruction: z.string(), output: z.string(), safe_response: z.string() })
    .partial()
    .optional(),
  helpful_fields: z.strictObject({ instruction: z.string(), output: z.string() }).partial().optional(),
  variant: z.enum(DERTA_VARIANTS).default('derta'),
  mode: z.enum(PREFIX_MODES).default('paper'),
  template: z.enum(['paper', 'chat']).default('paper'),
  /** A Jinja chat template file instead of tokenizer_config.json's (template: chat). */
  chat_template: z.string().optional(),
  /** A system message before the user turn (template: chat). */
  system: z.string().optional(),
  /** End-of-text string of the paper format (default `<|end_of_text|>` or the tokenizer's EOS). */
  eos_text: z.string().optional(),
  seed: z.int().min(0).default(1),
  sizes: Sizes.optional(),
  /** Truncate rows to this many tokens (train.yaml: default the preset's, 1024 full, 512 LoRA). */
  block_size: z.int().min(1).optional(),
  bos: z.enum(['auto', 'always', 'never']).default('auto'),
  /** The RTO target: an id or a vocabulary piece (default `Sorry`). */
  refusal_token: z.union([z.int().min(0), z.string().min(1)]).optional(),
  /** Backtrack rows: the reset token (an added special token of the tokenizer). */
  reset_token: z.string().min(1).optional(),
  /** Full-FT trick: keep this fraction of RTO targets, resampled per epoch (upstream 0.05). */
  rto_keep: z.number().gt(0).max(1).optional(),
  /** Epochs to unroll with rto_keep (train.yaml: default the training epochs). */
  epochs: z.int().min(1).optional(),
  /** Leave out rows that lost all labels to truncation (upstream keeps them). */
  drop_empty: z.boolean().default(false),
  shuffle: z.boolean().default(false),
  format: z.enum(DERTA_FORMATS).default('jsonl'),
  /** Output folder (train.yaml: default `<output_dir>/data`). */
  out: z.string().optional(),
  /** What axolotl.yaml says (format axolotl). */
  axolotl: z
    .strictObject({ base_model: z.string().optional(), preset: z.enum(['lora', 'full']).default('lora') })
    .optional(),
});
export type DertaBuildSpec = z.output<typeof DertaBuildSpec>;

/** The builder's options for a spec; relative paths resolve against `baseDir`. */
export function buildOptions(
  spec: DertaBuildSpec,
  baseDir: string,
  defaults: { tokenizer?: string; blockSize?: number; epochs?: number; out?: string } = {},
): DertaBuildOptions {
  const rel = (p: string): string => path.resolve(baseDir, p);
  const tokenizer = spec.tokenizer ? rel(spec.tokenizer) : defaults.tokenizer;
  const out = spec.out ? rel(spec.out) : defaults.out;
  return {
    triples: rel(spec.triples),
    ...(spec.helpful ? { helpful: rel(spec.helpful) } : {}),
    ...(tokenizer ? { tokenizer } : {}),
    tripleFields: spec.triple_fields ?? {},
    helpfulFields: spec.helpful_fields ?? {},
    variant: spec.variant,
    mode: spec.mode,
    template: spec.template,
    ...(spec.chat_template ? { chatTemplate: readTemplateFile(rel(spec.chat_template)) } : {}),
    ...(spec.system !== undefined ? { system: spec.system } : {}),
    ...(spec.eos_text !== undefined ? { eosText: spec.eos_text } : {}),
    seed: spec.seed,
    ...(spec.sizes ? { sizes: spec.sizes } : {}),
    blockSize: spec.block_size ?? defaults.blockSize ?? DEFAULT_BLOCK_SIZE,
    bos: spec.bos,
    ...(spec.refusal_token !== undefined ? { refusalToken: spec.refusal_token } : {}),
    ...(spec.reset_token !== undefined ? { resetToken: spec.reset_token } : {}),
    ...(spec.rto_keep !== undefined ? { rtoKeep: spec.rto_keep } : {}),
    epochs: spec.epochs ?? defaults.epochs ?? 2,
    dropEmpty: spec.drop_empty,
    shuffle: spec.shuffle,
    format: spec.format,
    ...(out ? { out } : {}),
    ...(spec.axolotl ? { axolotl: { baseModel: spec.axolotl.base_model, preset: spec.axolotl.preset } } : {}),
  };
}
