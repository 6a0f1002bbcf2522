import { z } from 'zod';

/**
 * The run config (`refusenik run <config.yaml|json>`). Keys are snake_case as users write them in YAML;
 * unknown keys are errors. Attack, judge and provider options are validated with each plugin's own schema
 * (attack/registry.ts, judge/registry.ts, target/create.ts), with the same file, line and key path.
 */

/** USD per million tokens. */
export const Price = z.strictObject({
  input_per_mtok: z.number().min(0),
  output_per_mtok: z.number().min(0),
  /** The provider's batch price (batch delivery); without it batch calls cost half the live price. */
  batch_input_per_mtok: z.number().min(0).optional(),
  batch_output_per_mtok: z.number().min(0).optional(),
});

/**
 * Provider options a target may also give at its top level, as every config did before each provider declared
 * its own `options` (src/target/: `openai` and `anthropic` take them all). Only their names are known here: the
 * provider that takes one maps it into its options and validates it with its own schema (file, line, key
 * path); a provider that does not take one ignores it, as before.
 */
export const FLAT_PROVIDER_OPTIONS = [
  'base_url',
  'endpoints',
  'replica_failures',
  'replica_cooldown_s',
  'api_key_env',
  'headers',
  'headers_env',
  'extra_body',
  'timeout_s',
  'connect_timeout_s',
  'idle_timeout_s',
  'deadline_s',
  'retry_budget_s',
  'retries',
  'backoff_s',
  'stream',
  'completion_fallback',
  'batch_poll_s',
  'batch_max_requests',
] as const;
export type FlatProviderOption = (typeof FLAT_PROVIDER_OPTIONS)[number];

/**
 * What identifies a model endpoint in stored keys (judge validations, a run's judges): the target's id and
 * its URL, written at the top level (`base_url`) or in its provider's options (`options.base_url`); a pool
 * given as a `base_url` list is keyed by its first URL (one given as `endpoints:` has no URL in its key, as
 * before). `undefined` when `spec` has no string id.
 */
export function modelKeyOf(spec: unknown): { id: string; base_url?: string } | undefined {
  if (typeof spec !== 'object' || spec === null) return undefined;
  const o = spec as Record<string, unknown>;
  if (typeof o['id'] !== 'string') return undefined;
  const options = o['options'];
  const nested =
    typeof options === 'object' && options !== null
      ? (options as Record<string, unknown>)['base_url']
      : undefined;
  const raw = o['base_url'] ?? nested;
  const url = Array.isArray(raw) ? (raw[0] as unknown) : raw;
  return { id: o['id'], ...(typeof url === 'string' ? { base_url: url } : {}) };
}

const flatProviderOptions = Object.fromEntries(
  FLAT_PROVIDER_OPTIONS.map((key) => [key, z.unknown().optional()]),
) as { [K in FlatProviderOption]: z.ZodOptional<z.ZodUnknown> };

/**
 * One model endpoint: a target under attack, or an auxiliary model (judge, attacker). These are the fields
 * every provider shares (the host reads them: ids, sampling, limits, price, delivery); what one provider
 * needs (a URL, a key variable, timeouts, a GPU) is its `options`, declared and validated by the provider
 * itself (src/target/create.ts lists them). Unknown keys are errors.
 */
export const TargetSpec = z.strictObject({
  /** `openai:<model>`, `anthropic:<model>`, `replay:<file>`, `llamacpp:<file.gguf>`, `mock:<script>`. */
  id: z.string().regex(/^[a-z][a-z0-9-]*:.+$/, 'expected <provider>:<model>, e.g. openai:gpt-4o-mini'),
  /** Display name in reports; defaults to `id`. Two targets with the same model need different labels. */
  label: z.string().min(1).optional(),
  temperature: z.number().min(0).max(2).optional(),
  max_tokens: z.number().int().positive().optional(),
  top_p: z.number().min(0).max(1).optional(),
  seed: z.number().int().optional(),
  system_prompt: z.string().optional(),
  stop: z.array(z.string()).optional(),
  /** Requests in flight at once (a replica pool: per replica unless an entry sets its own). */
  concurrency: z.number().int().positive().max(4096).optional(),
  /** Requests and tokens per minute this endpoint may take (sliding one-minute window). */
  rpm: z.number().int().positive().optional(),
  tpm: z.number().int().positive().optional(),
  /** This endpoint's price; else the config's `prices` table by target id or model name. */
  price: Price.optional(),
  /**
   * Batch delivery (openai: and anthropic: targets and judge models): requests go through the provider's
   * batch API (OpenAI Files + Batches, Anthropic Message Batches) at its batch price; the batch ids are kept
   * in the run store, so a later `run` collects them (docs/batch.md). Same as `delivery: batch`.
   */
  batch: z.boolean().optional(),
  /** `live` (default: one HTTP request per call) or `batch` (see `batch`). */
  delivery: z.enum(['live', 'batch']).optional(),
  /** The provider's own options (e.g. llamacpp `gpu_layers`), validated by the provider's schema. */
  options: z.record(z.string(), z.unknown()).optional(),
  ...flatProviderOptions,
});
export type TargetSpec = z.infer<typeof TargetSpec>;

/** A data pack's name: a single folder name, so `pack:` cannot point outside the data folder. */
export const PACK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** True when a pack-relative path cannot leave its pack folder. */
export function insidePack(file: string): boolean {
  const parts = file.split(/[\\/]+/);
  return !/^([a-zA-Z]:)?[\\/]/.test(file) && !parts.includes('..');
}

const Int = z.number().int();

export const DatasetConfig = z.strictObject({
  path: z.string().optional(),
  /** A pack name: one folder of the data folder (no `/`, no `..`). */
  pack: z.string().regex(PACK_NAME, 'expected a data pack name (see: refusenik data list)').optional(),
  /** A file inside the pack folder: no absolute paths, no `..` segments. */
  file: z
    .string()
    .refine((f) => insidePack(f), 'a pack file path must stay inside the pack (no absolute path, no ..)')
    .optional(),
  format: z.enum(['csv', 'json', 'jsonl', 'txt']).optional(),
  field: z.string().optional(),
  id_field: z.string().optional(),
  category_field: z.string().optional(),
  every: Int.positive().optional(),
  sample: Int.positive().optional(),
  seed: Int.optional(),
  limit: Int.positive().optional(),
  /** Only records whose column equals one of the values, e.g. `{label: safe}` (before every/sample/limit). */
  where: z.record(z.string(), z.union([z.string(), z.array(z.string()).min(1)])).optional(),
});
export type DatasetConfig = z.infer<typeof DatasetConfig>;

/** An attack or judge entry: `name` or `{name: options}` (options checked by the plugin's own schema). */
export const NamedEntry = z.union([z.string().min(1), z.record(z.string(), z.unknown())]);

export const RunConfig = z.strictObject({
  name: z.string().optional(),
  description: z.string().optional(),
  seed: Int.optional(),
  dataset: DatasetConfig,
  attacks: z.array(NamedEntry).min(1),
  targets: z.array(TargetSpec).min(1),
  judges: z.array(NamedEntry).default(['keyword']),
  /** Named auxiliary models (judge, attacker, mutator) that judges and attacks refer to by name. */
  models: z.record(z.string(), TargetSpec).optional(),
  /** Samples per case (each a separate request; cached separately). */
  samples: Int.positive().max(100).optional(),
  /** USD per million tokens by target id (`openai:gpt-4o`) or model name (`gpt-4o`). */
  prices: z.record(z.string(), Price).optional(),
  /** Consecutive failed calls of one endpoint that stop the run (default 10; 0 = never). */
  circuit_breaker: Int.min(0).optional(),
  /** Answers longer than this are cut and flagged (bytes, default 1 MB). */
  max_response_bytes: Int.positive().optional(),
});
export type RunConfig = z.infer<typeof RunConfig>;
