import path from 'node:path';
import type { Command } from 'commander';
import { progressBar } from '../util/progress.js';
import { InputError } from '../errors.js';
import { buildDertaDataset, type DertaBuildOptions } from '../derta/build.js';
import { buildOptions, DertaBuildSpec } from '../derta/build-spec.js';
import { DERTA_FORMATS, type DertaFormat } from '../derta/export.js';
import { parseFieldMap } from '../derta/inputs.js';
import type { BosPolicy } from '../derta/labels.js';
import { ROW_KINDS, type ExampleKind, type MixtureSizes } from '../derta/kinds/index.js';
import { convertPku, PKU_FIELDS, type PkuFields } from '../derta/pku.js';
import { TRAINER_OPTIONS } from '../derta/trainer-options.js';
import { DERTA_VARIANTS, PREFIX_MODES, type DertaVariant, type PrefixMode } from '../derta/types.js';
import { intOption, printJson, writeJsonl } from './common.js';

/** `refusenik derta build|convert-pku`: DeRTa (Decoupled Refusal Training) training data. */

interface BuildFlags {
  triples: string;
  helpful?: string;
  tokenizer?: string;
  variant: string;
  mode: string;
  seed: number;
  format: string;
  out: string;
  blockSize: number;
  template: string;
  chatTemplate?: string;
  system?: string;
  eosText?: string;
  tripleFields?: string;
  helpfulFields?: string;
  resetToken?: string;
  bos: string;
  refusalToken?: string;
  rtoKeep?: number;
  epochs: number;
  dropEmpty?: boolean;
  shuffle?: boolean;
  baseModel?: string;
  axolotlPreset: string;
  json?: boolean;
}

interface PkuFlags {
  out: string;
  dedupe: boolean;
  fields?: string;
  json?: boolean;
}

export function registerDertaCommand(program: Command): void {
  const derta = program
    .command('derta')
    .description(
      'build DeRTa (Decoupled Refusal Training) data: harmful-prefix MLE + refusal-token (RTO) rows',
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  refusenik derta convert-pku PKU-SafeRLHF/train.jsonl --out triples.jsonl\n' +
        '  refusenik derta build --triples triples.jsonl --helpful wizardlm.jsonl --tokenizer ./Meta-Llama-3-8B \\\n' +
        '      --variant derta --mode paper --seed 1 --format jsonl --out data/derta\n' +
        'See docs/derta.md.\n',
    );

  const build = derta
    .command('build')
    .description('build a tokenised (or upstream text) training set and stats.json')
    .requiredOption(
      '--triples <file>',
      'safety triples {instruction, output (harmful), safe_response} (JSON, JSONL, CSV)',
    )
    .option('--helpful <file>', 'helpfulness pairs {instruction, output}')
    .option(
      '--tokenizer <path>',
      'model folder with tokenizer.json (+ tokenizer_config.json), or the tokenizer.json',
    )
    .option('--variant <name>', `mixture: ${DERTA_VARIANTS.join(' | ')}`, 'derta')
    .option(
      '--mode <mode>',
      'prefix sampling: paper (upstream, word level) | formal (Eq. 2, token level)',
      'paper',
    )
    .option('--seed <n>', 'seed for prefix lengths, shuffling and RTO subsampling', intOption('--seed', 0), 1)
    .option('--format <fmt>', `output: ${DERTA_FORMATS.join(' | ')}`, 'jsonl')
    .requiredOption(
      '--out <dir>',
      'output folder (train.jsonl / train.parquet / train.text.jsonl, stats.json)',
    )
    .option(
      '--block-size <n>',
      `truncate rows to n tokens (the presets': ${Object.entries(TRAINER_OPTIONS.presets)
        .map(([name, p]) => `${p.block_size} ${name}`)
        .join(', ')})`,
      intOption('--block-size', 1),
      TRAINER_OPTIONS.presets.full.block_size,
    )
    .option(
      '--template <kind>',
      "prompt format: paper (upstream's [INST] q [\\INST]) | chat (model chat template)",
      'paper',
    )
    .option('--chat-template <file>', 'Jinja chat template to use instead of the tokenizer_config.json one')
    .option('--system <text>', 'system message for --template chat')
    .option(
      '--eos-text <text>',
      'end-of-text string of the paper format (default <|end_of_text|> or the tokenizer EOS)',
    )
    .option(
      '--triple-fields <map>',
      'rename input columns, e.g. instruction=prompt,output=unsafe,safe_response=safe',
    )
    .option('--helpful-fields <map>', 'rename input columns, e.g. instruction=question,output=answer');
  // One size flag per row kind (kinds/): --n-help, --n-vanilla, --n-mle-prefix, --n-rto, --n-backtrack.
  for (const k of SIZE_FLAGS) build.option(`${k.flag} <n|all>`, k.help, sizeOption(k.flag));
  build
    .option(
      '--reset-token <text>',
      "backtrack: the reset token, an added special token of the tokenizer (default Llama-3's <|reserved_special_token_0|>)",
    )
    .option('--bos <policy>', 'BOS token: auto (as the tokenizer / template does) | always | never', 'auto')
    .option(
      '--refusal-token <id|piece>',
      'RTO target (default: the vocabulary piece "Sorry" without a leading space)',
    )
    .option(
      '--rto-keep <fraction>',
      'keep this fraction of RTO targets, resampled per epoch (upstream full FT: 0.05)',
      fractionOption,
    )
    .option('--epochs <n>', 'epochs to unroll with --rto-keep', intOption('--epochs', 1), 2)
    .option('--drop-empty', 'leave out rows that lost all labels to truncation (upstream keeps them)')
    .option('--shuffle', 'shuffle rows (seeded); default keeps upstream order help, rto, vanilla, mle_prefix')
    .option('--base-model <name>', 'base_model written into axolotl.yaml')
    .option('--axolotl-preset <preset>', 'axolotl.yaml hyper-parameters: lora | full (paper presets)', 'lora')
    .option('--json', 'print the stats as JSON')
    .action((flags: BuildFlags) => {
      const options = buildOptionsOf(flags);
      const bar = progress(true);
      const result = buildDertaDataset({ ...options, onProgress: bar.update });
      bar.stop();
      if (flags.json) printJson(result.stats);
      else printSummary(result.stats, result.files);
    });

  derta
    .command('convert-pku')
    .description(
      'turn PKU-SafeRLHF-style preference records (prompt, two responses, per-response safety flags) into ' +
        'safety triples; only pairs with one safe and one unsafe response are kept',
    )
    .argument('<file>', 'PKU-SafeRLHF records (JSON, JSONL, CSV)')
    .requiredOption(
      '--out <file>',
      'triples JSONL to write ({instruction, output, safe_response}); - for stdout',
    )
    .option('--no-dedupe', 'keep every qualifying record, not only the first per prompt')
    .option(
      '--fields <map>',
      'rename input columns: prompt=…,response_0=…,response_1=…,is_response_0_safe=…,is_response_1_safe=…',
    )
    .option('--json', 'print the counts as JSON')
    .action(async (file: string, flags: PkuFlags) => {
      const res = convertPku(file, { dedupe: flags.dedupe, fields: pkuFields(flags.fields) });
      await writeJsonl(
        flags.out,
        res.triples.map((t) => ({
          instruction: t.instruction,
          output: t.output,
          safe_response: t.safe_response,
        })),
      );
      const report = { read: res.read, written: res.triples.length, skipped: res.skipped, out: flags.out };
      if (flags.json) printJson(report);
      else if (flags.out !== '-') {
        process.stderr.write(
          `${res.triples.length} triples from ${res.read} records → ${flags.out} (skipped: both safe ` +
            `${res.skipped.both_safe}, both unsafe ${res.skipped.both_unsafe}, duplicate prompt ` +
            `${res.skipped.duplicate_prompt}, empty ${res.skipped.empty})\n`,
        );
      }
    });
}

/** The flags as the one build spec (derta/build-spec.ts), checked flag by flag for flag-named errors. */
function buildOptionsOf(f: BuildFlags): DertaBuildOptions {
  const spec = DertaBuildSpec.parse({
    triples: f.triples,
    helpful: f.helpful,
    tokenizer: f.tokenizer,
    triple_fields: parseFieldMap(
      f.tripleFields,
      ['instruction', 'output', 'safe_response'] as const,
      '--triple-fields',
    ),
    helpful_fields: parseFieldMap(f.helpfulFields, ['instruction', 'output'] as const, '--helpful-fields'),
    variant: oneOf<DertaVariant>('--variant', f.variant, DERTA_VARIANTS),
    mode: oneOf<PrefixMode>('--mode', f.mode, PREFIX_MODES),
    seed: f.seed,
    format: oneOf<DertaFormat>('--format', f.format, DERTA_FORMATS),
    out: f.out,
    block_size: f.blockSize,
    template: oneOf('--template', f.template, ['paper', 'chat'] as const),
    chat_template: f.chatTemplate,
    system: f.system,
    eos_text: f.eosText,
    sizes: sizes(f),
    bos: oneOf<BosPolicy>('--bos', f.bos, ['auto', 'always', 'never']),
    refusal_token: f.refusalToken,
    reset_token: f.resetToken,
    rto_keep: f.rtoKeep,
    epochs: f.epochs,
    drop_empty: f.dropEmpty === true,
    shuffle: f.shuffle === true,
    axolotl: {
      base_model: f.baseModel,
      preset: oneOf('--axolotl-preset', f.axolotlPreset, ['lora', 'full'] as const),
    },
  });
  return buildOptions(spec, process.cwd());
}

/** Each row kind's size flag (`--n-mle-prefix`) and the key commander gives its value (`nMlePrefix`). */
const SIZE_FLAGS: readonly { kind: ExampleKind; flag: string; key: string; help: string }[] = ROW_KINDS.map(
  (k) => {
    const words = ['n', ...k.name.split('_')];
    return {
      kind: k.name,
      flag: `--${words.join('-')}`,
      key: words.map((w, i) => (i ? w.charAt(0).toUpperCase() + w.slice(1) : w)).join(''),
      help: k.sizeHelp,
    };
  },
);

function sizes(f: BuildFlags): Partial<MixtureSizes> {
  const given = f as unknown as Record<string, number | 'all' | undefined>;
  const out: Partial<MixtureSizes> = {};
  for (const { kind, key } of SIZE_FLAGS) {
    const size = given[key];
    if (size !== undefined) out[kind] = size;
  }
  return out;
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new InputError(`${flag} must be one of ${allowed.join(', ')}, got '${value}'`);
  }
  return value as T;
}

function sizeOption(flag: string): (v: string) => number | 'all' {
  const int = intOption(flag, 0);
  return (v) => (v === 'all' ? 'all' : int(v));
}

function fractionOption(v: string): number {
  const n = Number(v);
  if (!(n > 0 && n <= 1)) throw new InputError(`--rto-keep expects a fraction in (0, 1], got '${v}'`);
  return n;
}

function pkuFields(spec: string | undefined): PkuFields {
  const keys = ['prompt', 'response_0', 'response_1', 'is_response_0_safe', 'is_response_1_safe'] as const;
  const m = parseFieldMap(spec, keys, '--fields');
  return {
    prompt: m.prompt ?? PKU_FIELDS.prompt,
    responses: [m.response_0 ?? PKU_FIELDS.responses[0], m.response_1 ?? PKU_FIELDS.responses[1]],
    safe: [m.is_response_0_safe ?? PKU_FIELDS.safe[0], m.is_response_1_safe ?? PKU_FIELDS.safe[1]],
  };
}

function progress(enabled: boolean): { update: (done: number, total: number) => void; stop: () => void } {
  const bar = progressBar({ enabled, label: 'derta', unit: 'rows' });
  let started = false;
  return {
    update: (done, total) => {
      if (!started) bar.start(total);
      started = true;
      bar.update(done);
    },
    stop: () => bar.stop(),
  };
}

function printSummary(stats: Record<string, unknown>, files: string[]): void {
  const s = stats as {
    rows: number;
    counts: Record<string, number>;
    prefix_length: { unit: string; mean: number; histogram: { range: string; count: number }[] };
    truncated?: number;
    lost_all_labels?: { total: number };
    refusal_token_id?: number;
    epochs_unrolled?: number;
  };
  const epochs = s.epochs_unrolled ? `, ${s.epochs_unrolled} epochs unrolled` : '';
  const lines = [
    `rows: ${s.rows}${epochs} (${Object.entries(s.counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')})`,
    `harmful prefix (${s.prefix_length.unit}): mean ${s.prefix_length.mean.toFixed(1)}; ` +
      s.prefix_length.histogram.map((b) => `${b.range}: ${b.count}`).join(', '),
  ];
  if (s.truncated !== undefined) {
    lines.push(`truncated: ${s.truncated}; lost all labels: ${s.lost_all_labels?.total ?? 0}`);
    lines.push(`refusal token id: ${s.refusal_token_id}`);
  }
  lines.push(`wrote: ${files.map((f) => path.relative(process.cwd(), f) || f).join(', ')}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
