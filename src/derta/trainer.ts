import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { loadYamlFile } from '../config/load.js';
import { InputError, RuntimeFailure } from '../errors.js';
import { progressBar } from '../util/progress.js';
import { repoRoot } from '../util/repo-root.js';
import { buildDertaDataset } from './build.js';
import { buildOptions, DertaBuildSpec } from './build-spec.js';

/**
 * Launching the Python trainer from a train config: the config schema, the Python environment check, the
 * launch command (plain, torchrun or accelerate), following its JSON-lines progress, and the data it trains
 * on. `refusenik train` and `refusenik loop` both go through `trainModel`.
 */

// ---- config ----------------------------------------------------------------------------------------------

/** train.yaml's `build:` section: the one DeRTa build schema (build-spec.ts); format jsonl or parquet. */
export const BuildSection = DertaBuildSpec;

/**
 * The trainer options of train.yaml. Each key is the Python option of the same name
 * (trainer/refusenik_trainer/options.py), passed as its flag by `trainerCommand`: `warmup_ratio` →
 * `--warmup-ratio`, so a new option is declared there and here, and nowhere else.
 */
export const Hyper = z.strictObject({
  lr: z.number().positive().optional(),
  scheduler: z.string().optional(),
  warmup_ratio: z.number().min(0).max(1).optional(),
  weight_decay: z.number().min(0).optional(),
  epochs: z.number().positive().optional(),
  block_size: z.int().min(1).optional(),
  global_batch_size: z.int().min(1).optional(),
  micro_batch_size: z.int().min(1).optional(),
  lora_r: z.int().min(1).optional(),
  lora_alpha: z.int().min(1).optional(),
  lora_dropout: z.number().min(0).max(1).optional(),
  max_grad_norm: z.number().positive().optional(),
  checkpointing: z.number().min(0).max(1).optional(),
});

/** The constrained objective's beta schedule: the trainer's `--beta-first`, `--beta-early`, ... */
export const Beta = z.strictObject({
  first: z.number().positive().optional(),
  early: z.number().positive().optional(),
  rest: z.number().positive().optional(),
  early_tokens: z.int().min(1).optional(),
});

/** Every field of train.yaml (the refine below ties data and build together). */
export const TrainFields = z.strictObject({
  model: z.string(),
  /** Fresh weights from the model's config.json (smoke tests, benchmarks). */
  random_init: z.boolean().default(false),
  preset: z.enum(['full', 'lora']).default('full'),
  /** A built folder (train.jsonl / train.parquet) or file; or `build:` to build it first. */
  data: z.string().optional(),
  build: BuildSection.optional(),
  output_dir: z.string(),
  hyper: Hyper.default({}),
  max_steps: z.int().min(1).optional(),
  seed: z.int().min(0).default(1),
  precision: z.enum(['auto', 'bf16', 'fp16', 'fp32']).default('auto'),
  loss: z.enum(['auto', 'chunked', 'stock']).default('auto'),
  group_by_length: z.boolean().default(true),
  save_steps: z.int().min(1).optional(),
  save_total_limit: z.int().min(1).optional(),
  logging_steps: z.int().min(1).optional(),
  resume: z.string().default('auto'),
  torch_compile: z.boolean().default(false),
  /** Python interpreter; default $REFUSENIK_PYTHON, then the repo's .venv, then python3. */
  python: z.string().optional(),
  launcher: z.enum(['python', 'torchrun', 'accelerate']).default('python'),
  /** Processes (GPUs) per node for torchrun / accelerate. */
  nproc_per_node: z.int().min(1).optional(),
  nnodes: z.int().min(1).optional(),
  node_rank: z.int().min(0).optional(),
  master_addr: z.string().optional(),
  master_port: z.int().min(1).max(65535).optional(),
  accelerate_config: z.string().optional(),
  deepspeed: z.string().optional(),
  fsdp: z.string().optional(),
  fsdp_config: z.string().optional(),
  /**
   * mle: cross-entropy on the labels (DeRTa); constrained: Qi et al. 2024's token-wise constrained objective
   * against the frozen base (LoRA only), with its per-position beta schedule.
   */
  objective: z.enum(['mle', 'constrained']).default('mle'),
  beta: Beta.optional(),
  /**
   * transformers `TrainingArguments` fields, each passed as `--<field> <value>` (a mapping as JSON), e.g.
   * `{adam_beta2: 0.95, optim: adamw_torch_fused, report_to: wandb, lr_scheduler_kwargs: {min_lr: 1e-6}}`.
   * Only the fields given are applied, over the preset's arguments; the trainer rejects a field that one of
   * its options sets (`learning_rate`: use `hyper.lr`).
   */
  training_args: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.record(z.string(), z.unknown())]))
    .superRefine((fields, ctx) => {
      for (const field of Object.keys(fields))
        if (!/^[a-z][a-z0-9_]*$/.test(field))
          ctx.addIssue({
            code: 'custom',
            path: [field],
            message: 'expected a TrainingArguments field name (snake_case)',
          });
    })
    .optional(),
  /** Passed through to `python -m refusenik_trainer train` as they are: its flags or TrainingArguments'. */
  extra_args: z.array(z.string()).default([]),
});

/** train.yaml keys that set up the launch (interpreter, launcher, data) or are passed on their own way. */
const LAUNCH_KEYS = new Set([
  'model',
  'data',
  'build',
  'output_dir',
  'preset',
  'python',
  'launcher',
  'nproc_per_node',
  'nnodes',
  'node_rank',
  'master_addr',
  'master_port',
  'accelerate_config',
  'training_args',
  'extra_args',
]);

/** Sections whose keys are trainer options, after a prefix: `hyper.lr` → `--lr`, `beta.first` → `--beta-first`. */
const SECTIONS: Record<string, string> = { hyper: '', beta: 'beta_' };
const SECTION_SCHEMAS: Record<string, z.ZodObject> = { hyper: Hyper, beta: Beta };

/** The train.yaml key that sets a trainer option of this name, if any (`lr` → `hyper.lr`). */
function yamlKeyOf(option: string): string | undefined {
  if (option in TrainFields.shape && !(option in SECTIONS)) return option;
  for (const [section, prefix] of Object.entries(SECTIONS)) {
    const key = option.startsWith(prefix) ? option.slice(prefix.length) : undefined;
    if (key !== undefined && key in SECTION_SCHEMAS[section]!.shape) return `${section}.${key}`;
  }
  return undefined;
}

export const TrainConfig = TrainFields.refine((c) => (c.data === undefined) !== (c.build === undefined), {
  message: 'give exactly one of data (a built folder) or build (inputs to build from)',
  path: ['data'],
}).superRefine((c, ctx) => {
  for (const field of Object.keys(c.training_args ?? {})) {
    const key = yamlKeyOf(field);
    if (key)
      ctx.addIssue({
        code: 'custom',
        path: ['training_args', field],
        message: `${field} is a trainer option: set \`${key}\` instead`,
      });
  }
});
export type TrainConfig = z.output<typeof TrainConfig>;

export interface LoadedTrainConfig {
  config: TrainConfig;
  file: string;
  baseDir: string;
}

export function loadTrainConfig(file: string): LoadedTrainConfig {
  const { config, baseDir } = loadYamlFile(file, TrainConfig, 'config');
  return { config, file, baseDir };
}

// ---- the Python environment ------------------------------------------------------------------------------

/** Import name → pip name: what `python -m refusenik_trainer train` needs. */
const REQUIRED: Record<string, string> = {
  torch: 'torch',
  transformers: 'transformers',
  peft: 'peft',
  accelerate: 'accelerate',
  safetensors: 'safetensors',
  refusenik_trainer: 'refusenik-trainer',
};

// Prints {"python": version, "packages": {import name: version or null}} without importing anything heavy.
const PROBE = `
import importlib.util, importlib.metadata, json, sys
out = {}
for mod, dist in json.loads(sys.argv[1]).items():
    if importlib.util.find_spec(mod) is None:
        out[mod] = None
        continue
    try:
        out[mod] = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        out[mod] = "unknown"
print(json.dumps({"python": sys.version.split()[0], "packages": out}))
`;

export interface EnvReport {
  python: string;
  version?: string;
  packages: Record<string, string | null>;
  missing: string[];
}

/** The packages a config needs: the trainer's own, plus pyarrow for Parquet and deepspeed when configured. */
export function requiredPackages(config: TrainConfig): Record<string, string> {
  const need = { ...REQUIRED };
  const parquet = config.build?.format === 'parquet' || (config.data ?? '').endsWith('.parquet');
  if (parquet) need['pyarrow'] = 'pyarrow';
  if (config.deepspeed) need['deepspeed'] = 'deepspeed';
  return need;
}

/** Runs the interpreter once to see which packages it can import. */
export function checkPythonEnv(python: string, packages: Record<string, string>): EnvReport {
  const res = spawnSync(python, ['-c', PROBE, JSON.stringify(packages)], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (res.error) {
    throw new RuntimeFailure(
      `cannot run the Python interpreter '${python}': ${res.error.message}\n` +
        installHelp(Object.values(packages)),
    );
  }
  let parsed: { python?: string; packages?: Record<string, string | null> };
  try {
    parsed = JSON.parse(res.stdout.trim().split('\n').pop() ?? '') as typeof parsed;
  } catch {
    throw new RuntimeFailure(
      `'${python}' did not answer the package check (exit ${res.status}): ${res.stderr.trim().slice(-500)}`,
    );
  }
  const found = parsed.packages ?? {};
  const missing = Object.keys(packages).filter((m) => !found[m]);
  return { python, version: parsed.python, packages: found, missing };
}

function installHelp(pipNames: string[]): string {
  const extra = pipNames.filter((n) => n === 'deepspeed' || n === 'pyarrow');
  return (
    'Install the trainer environment from the refusenik checkout with:\n' +
    '  bash scripts/setup-python.sh            (creates .venv with the pinned versions)\n' +
    'or into an interpreter of your choice:\n' +
    '  python -m pip install -r trainer/requirements.txt && python -m pip install -e trainer\n' +
    (extra.length ? `  python -m pip install ${extra.join(' ')}\n` : '') +
    'and point refusenik at it with `python:` in the config or $REFUSENIK_PYTHON.'
  );
}

export function missingPackagesError(report: EnvReport, packages: Record<string, string>): RuntimeFailure {
  const lines = report.missing.map((m) => `  - ${m} (pip install ${packages[m]})`);
  return new RuntimeFailure(
    `the Python environment '${report.python}' lacks ${report.missing.length} package(s):\n` +
      `${lines.join('\n')}\n` +
      installHelp(report.missing.map((m) => packages[m] ?? m)),
  );
}

/** config `python`, then $REFUSENIK_PYTHON, then this checkout's .venv, then `python3` on PATH. */
export function resolvePython(
  config: TrainConfig,
  baseDir: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (config.python)
    return config.python.includes('/') ? path.resolve(baseDir, config.python) : config.python;
  if (env['REFUSENIK_PYTHON']) return env['REFUSENIK_PYTHON'];
  const venv = path.join(repoRoot(), '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

// ---- the launch command ----------------------------------------------------------------------------------

/** Trainer options whose values are paths relative to the config file. */
const PATH_OPTIONS: Record<string, (value: string) => boolean> = {
  resume: (v) => v !== 'auto' && v !== 'never',
  deepspeed: () => true,
  fsdp_config: () => true,
};

let defaults: Record<string, unknown> | undefined;

/** train.yaml's defaults: an option left at its default is not passed (the trainer's default is the same). */
function trainDefaults(): Record<string, unknown> {
  defaults ??= TrainFields.parse({ model: '', output_dir: '' }) as Record<string, unknown>;
  return defaults;
}

/**
 * The trainer flags of the config's options, one rule for all: key `snake_case` → `--snake-case value`, a
 * boolean as `--flag` (true) or `--no-flag` (false, where the default is true), paths resolved; options at
 * their default are left out (the trainer's defaults are the same).
 */
export function optionFlags(config: TrainConfig, rel: (p: string) => string): string[] {
  const options: [string, unknown][] = [];
  for (const [key, value] of Object.entries(config)) {
    if (LAUNCH_KEYS.has(key)) continue;
    const prefix = SECTIONS[key];
    if (prefix === undefined) options.push([key, value]);
    else
      for (const [sub, v] of Object.entries((value ?? {}) as Record<string, unknown>))
        options.push([`${prefix}${sub}`, v]);
  }
  const flags: string[] = [];
  for (const [option, value] of options) {
    if (value === undefined || value === trainDefaults()[option]) continue;
    const flag = `--${option.replace(/_/g, '-')}`;
    if (typeof value === 'boolean')
      flags.push(
        ...(value ? [flag] : trainDefaults()[option] === true ? [`--no-${flag.slice(2)}`] : [flag, 'false']),
      );
    else if (typeof value === 'string') flags.push(flag, PATH_OPTIONS[option]?.(value) ? rel(value) : value);
    else flags.push(flag, typeof value === 'object' ? JSON.stringify(value) : String(value));
  }
  return flags;
}

/** train.yaml's `training_args` as `--<field> <value>` (TrainingArguments' own spelling; mappings as JSON). */
export function trainingArgFlags(config: TrainConfig): string[] {
  return Object.entries(config.training_args ?? {}).flatMap(([field, value]) => [
    `--${field}`,
    typeof value === 'object' ? JSON.stringify(value) : String(value),
  ]);
}

/** argv (interpreter first) that runs the trainer with this config on the prepared data. */
export function trainerCommand(config: TrainConfig, baseDir: string, python: string, data: string): string[] {
  const rel = (p: string): string => path.resolve(baseDir, p);
  const modelPath =
    /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(config.model) && !existsSync(rel(config.model))
      ? config.model
      : rel(config.model);
  const args = ['train', '--model', modelPath, '--data', data, '--output-dir', rel(config.output_dir)];
  args.push('--preset', config.preset);
  if (config.build) args.push('--tokenizer', rel(config.build.tokenizer ?? config.model));
  args.push(...optionFlags(config, rel), ...trainingArgFlags(config), ...config.extra_args);

  const module = ['-m', 'refusenik_trainer', ...args];
  if (config.launcher === 'torchrun') {
    const dist = ['--nproc-per-node', String(config.nproc_per_node ?? 1)];
    if (config.nnodes !== undefined) dist.push('--nnodes', String(config.nnodes));
    if (config.node_rank !== undefined) dist.push('--node-rank', String(config.node_rank));
    if (config.master_addr) dist.push('--master-addr', config.master_addr);
    if (config.master_port !== undefined) dist.push('--master-port', String(config.master_port));
    return [python, '-m', 'torch.distributed.run', ...dist, ...module];
  }
  if (config.launcher === 'accelerate') {
    const acc: string[] = [];
    if (config.accelerate_config) acc.push('--config_file', rel(config.accelerate_config));
    if (config.nproc_per_node !== undefined)
      acc.push('--num_processes', String(config.nproc_per_node * (config.nnodes ?? 1)));
    if (config.nnodes !== undefined) acc.push('--num_machines', String(config.nnodes));
    if (config.node_rank !== undefined) acc.push('--machine_rank', String(config.node_rank));
    if (config.master_addr) acc.push('--main_process_ip', config.master_addr);
    if (config.master_port !== undefined) acc.push('--main_process_port', String(config.master_port));
    return [python, '-m', 'accelerate.commands.launch', ...acc, ...module];
  }
  return [python, ...module];
}

// ---- running and following progress ----------------------------------------------------------------------

/** One JSON line from the trainer (see trainer/refusenik_trainer/progress.py). */
export interface TrainerEvent {
  event: string;
  [key: string]: unknown;
}

export interface LaunchResult {
  code: number;
  events: number;
  done?: TrainerEvent;
  error?: TrainerEvent;
}

/**
 * Runs the trainer, handing each JSON event to `onEvent`. Lines on stdout that are not JSON objects (a stray
 * print from a library on a non-main rank) are passed to stderr rather than dropped; stderr is inherited.
 */
export async function launchTrainer(
  argv: string[],
  onEvent: (e: TrainerEvent) => void,
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<LaunchResult> {
  const [cmd, ...args] = argv as [string, ...string[]];
  const child = spawn(cmd, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  const result: LaunchResult = { code: 1, events: 0 };
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => reject(new RuntimeFailure(`cannot start '${cmd}': ${err.message}`, err)));
  });
  await spawned;
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    const event = parseEvent(line);
    if (!event) {
      if (line.trim()) process.stderr.write(`${line}\n`);
      continue;
    }
    result.events++;
    if (event.event === 'done') result.done = event;
    if (event.event === 'error') result.error = event;
    onEvent(event);
  }
  const [code, signal] = (await new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve([child.exitCode, child.signalCode]);
    else child.once('close', (c, s) => resolve([c, s]));
  })) as [number | null, NodeJS.Signals | null];
  result.code = code ?? (signal === 'SIGINT' ? 130 : 1);
  return result;
}

function parseEvent(line: string): TrainerEvent | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const v = JSON.parse(line) as unknown;
    return v && typeof v === 'object' && typeof (v as { event?: unknown }).event === 'string'
      ? (v as TrainerEvent)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A progress bar over optimizer steps (stderr, only on a TTY), with loss, learning rate and tokens/s. */
export function stepBar(enabled: boolean): (e: TrainerEvent) => void {
  const bar = progressBar({
    enabled,
    label: 'train',
    unit: 'steps',
    columns: { loss: '-', lr: '-', tok_per_s: '-' },
  });
  return (e) => {
    if (e.event === 'start') bar.start(Number(e['max_steps']) || 0, Number(e['step']) || 0);
    else if (e.event === 'step') {
      bar.update(Number(e['step']) || 0, {
        loss: typeof e['loss'] === 'number' ? e['loss'].toFixed(4) : '-',
        lr: typeof e['lr'] === 'number' ? e['lr'].toExponential(2) : '-',
        tok_per_s: typeof e['tokens_per_s'] === 'number' ? Math.round(e['tokens_per_s']) : '-',
      });
    } else if (e.event === 'done' || e.event === 'error' || e.event === 'interrupted') bar.stop();
  };
}

// ---- one training run --------------------------------------------------------------------------------------

export interface TrainOptions {
  /** Each trainer event as it arrives (progress, --json output). */
  onEvent?: (e: TrainerEvent) => void;
  /** Print a one-line summary of the built data on stderr. */
  showSummary?: boolean;
  /** Checked environment, when the caller already has it. */
  env?: EnvReport;
}

export interface TrainOutcome {
  data: string;
  done: TrainerEvent;
  /** The last step event (its loss). */
  last?: TrainerEvent;
}

/**
 * Checks the environment, prepares the data and runs the trainer to the end. Errors carry the trainer's own
 * message: exit 2 (its input) becomes an InputError, an interrupt says how to resume.
 */
export async function trainModel(
  config: TrainConfig,
  baseDir: string,
  opts: TrainOptions = {},
): Promise<TrainOutcome> {
  const python = resolvePython(config, baseDir);
  const packages = requiredPackages(config);
  const env = opts.env ?? checkPythonEnv(python, packages);
  if (env.missing.length) throw missingPackagesError(env, packages);
  const data = prepareData(config, baseDir, opts.showSummary ?? false);
  const argv = trainerCommand(config, baseDir, python, data);
  let last: TrainerEvent | undefined;
  const result = await launchTrainer(argv, (e) => {
    if (e.event === 'step') last = e;
    opts.onEvent?.(e);
  });
  if (result.code === 130)
    throw new RuntimeFailure('training interrupted; run the same command again to resume');
  if (result.code !== 0) {
    const message = typeof result.error?.['message'] === 'string' ? result.error['message'] : undefined;
    if (result.code === 2) throw new InputError(message ?? 'the trainer rejected its input (see above)');
    throw new RuntimeFailure(`training failed (exit ${result.code})${message ? `: ${message}` : ''}`);
  }
  if (!result.done) throw new RuntimeFailure('the trainer exited without reporting that it finished');
  return { data, done: result.done, last };
}

/** The trainer's `--data`: the configured folder, or the folder the build section writes. */
export function prepareData(config: TrainConfig, baseDir: string, showSummary: boolean): string {
  const rel = (p: string): string => path.resolve(baseDir, p);
  if (config.data) {
    const data = rel(config.data);
    const file = existsSync(path.join(data, 'train.jsonl')) || existsSync(path.join(data, 'train.parquet'));
    if (!existsSync(data) || (!file && !/\.(jsonl|parquet)$/.test(data)))
      throw new InputError(`no train.jsonl or train.parquet at ${data}`, { field: 'data' });
    return data;
  }
  const b = config.build as DertaBuildSpec;
  if (b.format !== 'jsonl' && b.format !== 'parquet') {
    throw new InputError(`the trainer reads jsonl or parquet, not ${b.format}`, { field: 'build.format' });
  }
  const out = rel(b.out ?? path.join(config.output_dir, 'data'));
  const result = buildDertaDataset(
    buildOptions(b, baseDir, {
      tokenizer: rel(config.model),
      blockSize: config.hyper.block_size ?? (config.preset === 'lora' ? 512 : 1024),
      epochs: Math.ceil(config.hyper.epochs ?? 2),
      out,
    }),
  );
  if (showSummary) {
    const counts = result.stats['counts'];
    process.stderr.write(`built training data → ${out}${counts ? ` ${JSON.stringify(counts)}` : ''}\n`);
  }
  return out;
}

export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
