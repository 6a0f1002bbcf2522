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

/** A model server's URL: http:// or https:// only. */
const HttpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'base_url must start with http:// or https://');

/** One replica of a pool, with its own limits (else the target's). */
export const ReplicaSpec = z.strictObject({
  base_url: HttpUrl,
  concurrency: z.number().int().positive().max(4096).optional(),
  rpm: z.number().int().positive().optional(),
  tpm: z.number().int().positive().optional(),
});
export type ReplicaSpec = z.infer<typeof ReplicaSpec>;

/** One model endpoint: a target under attack, or an auxiliary model (judge, attacker). */
export const TargetSpec = z.strictObject({
  /** `openai:<model>`, `anthropic:<model>`, `replay:<file>`, `llamacpp:<file.gguf>`, `mock:<script>`. */
  id: z.string().regex(/^[a-z][a-z0-9-]*:.+$/, 'expected <provider>:<model>, e.g. openai:gpt-4o-mini'),
  /** Display name in reports; defaults to `id`. Two targets with the same model need different labels. */
  label: z.string().min(1).optional(),
  /**
   * http:// or https:// only: anything else is an error at validation, not at run time. A list names the
   * replicas of one replica pool (several servers serving the same model; see `endpoints`).
   */
  base_url: z.union([HttpUrl, z.array(HttpUrl).min(1)]).optional(),
  /**
   * A replica pool: several servers serving the same model. Each request goes to the replica with the fewest
   * outstanding requests; each replica has its own concurrency, rpm/tpm budget and circuit breaker (the
   * target's `concurrency`, `rpm` and `tpm` are per replica unless an entry sets its own).
   */
  endpoints: z
    .array(z.union([HttpUrl, ReplicaSpec]))
    .min(1)
    .optional(),
  /** Consecutive failed attempts that take a pool's replica out of rotation (default 3; refused connections: 1). */
  replica_failures: z.number().int().positive().optional(),
  /** How long a failed replica sits out before one probe request is let through (half-open; default 5 s, doubling). */
  replica_cooldown_s: z.number().positive().optional(),
  /** Name of the environment variable holding the API key (never the key itself). */
  api_key_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
    .optional(),
  temperature: z.number().min(0).max(2).optional(),
  max_tokens: z.number().int().positive().optional(),
  top_p: z.number().min(0).max(1).optional(),
  seed: z.number().int().optional(),
  system_prompt: z.string().optional(),
  stop: z.array(z.string()).optional(),
  /** Literal header values: never stored (the run keeps "[redacted]"); prefer headers_env for secrets. */
  headers: z.record(z.string(), z.string()).optional(),
  /** Header values read from environment variables, e.g. `{X-Api-Key: MY_KEY_VAR}` (non-Bearer auth). */
  headers_env: z
    .record(z.string(), z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name'))
    .optional(),
  /** Extra request-body fields merged into every request (e.g. vLLM's `continue_final_message`). */
  extra_body: z.record(z.string(), z.unknown()).optional(),
  concurrency: z.number().int().positive().max(4096).optional(),
  /**
   * Time from sending a request to its first response byte (default 120). Counted from when the request
   * is sent, never while it waits for a concurrency slot. A stream that keeps sending is never cut by it.
   */
  timeout_s: z.number().positive().optional(),
  /** TCP/TLS connect timeout (default 10). */
  connect_timeout_s: z.number().positive().optional(),
  /** Longest silence between two chunks of a streamed (or slow) body (default 60). */
  idle_timeout_s: z.number().positive().optional(),
  /** Optional total deadline per attempt, however much progress the stream makes. */
  deadline_s: z.number().positive().optional(),
  /** Longest total time spent retrying one request before it fails (default 120). */
  retry_budget_s: z.number().positive().optional(),
  /** Requests and tokens per minute this endpoint may take (sliding one-minute window). */
  rpm: z.number().int().positive().optional(),
  tpm: z.number().int().positive().optional(),
  /** This endpoint's price; else the config's `prices` table by target id or model name. */
  price: Price.optional(),
  /** Retries after the first attempt (429, 5xx, timeouts, connection resets). */
  retries: z.number().int().min(0).max(20).optional(),
  /** Base of the exponential backoff, in seconds (jittered; a Retry-After header wins). */
  backoff_s: z.number().min(0).optional(),
  /** Use SSE streaming (same result; lets long generations survive idle-timeout proxies). */
  stream: z.boolean().optional(),
  /** For chat-only APIs given a raw-text prompt: refuse (`error`) or send it as an assistant prefill. */
  completion_fallback: z.enum(['error', 'prefill']).optional(),
  /** Provider options (llamacpp `gpu_layers`, `context_size`), validated by the provider's own schema. */
  options: z.record(z.string(), z.unknown()).optional(),
  /**
   * Batch delivery (openai: and anthropic: targets and judge models): requests go through the provider's
   * batch API (OpenAI Files + Batches, Anthropic Message Batches) at its batch price; the batch ids are kept
   * in the run store, so a later `run` collects them (docs/batch.md). Same as `delivery: batch`.
   */
  batch: z.boolean().optional(),
  /** `live` (default: one HTTP request per call) or `batch` (see `batch`). */
  delivery: z.enum(['live', 'batch']).optional(),
  /** Seconds between two polls of a submitted batch (default 30; env REFUSENIK_BATCH_POLL_S overrides). */
  batch_poll_s: z.number().positive().optional(),
  /** Requests per batch file, within the provider's limit (OpenAI 50,000; Anthropic 100,000). */
  batch_max_requests: z.number().int().positive().max(100_000).optional(),
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
