import { writeFileAtomic } from '../util/atomic-write.js';
import path from 'node:path';
import { InputError } from '../errors.js';
import { Rng } from '../util/random.js';
import { axolotlSink, jsonlSink, parquetSink, textSink, type DertaFormat, type RowSink } from './export.js';
import { chatFormat, paperEosText, paperFormat, type PromptFormat } from './format.js';
import { loadHelpful, loadTriples, type FieldMap, type HelpfulField, type TripleField } from './inputs.js';
import { IGNORE, labelRow, sampleRtoTargets, type BosPolicy, type LabelOptions } from './labels.js';
import { rowKind, type KindOptions } from './kinds/index.js';
import { buildMixture, type MixtureSizes } from './mixture.js';
import { StatsCollector } from './stats.js';
import { TRAINER_OPTIONS } from './trainer-options.js';
import { loadTokenizer, refusalTokenId, type DertaTokenizer } from '../text/tokenizer.js';
import type {
  DertaVariant,
  HelpfulPair,
  PrefixMode,
  SafetyTriple,
  TextExample,
  TokenizedRow,
  UpstreamTextRow,
} from './types.js';

/** Rows are truncated to this many tokens unless told otherwise: the full preset's block size. */
export const DEFAULT_BLOCK_SIZE: number = TRAINER_OPTIONS.presets.full.block_size;

export interface DertaBuildOptions extends KindOptions {
  /** Safety triples: a file (JSON / JSONL / CSV) or records. */
  triples: string | SafetyTriple[];
  /** Helpfulness pairs: a file or records; none by default. */
  helpful?: string | HelpfulPair[];
  tripleFields?: FieldMap<TripleField>;
  helpfulFields?: FieldMap<HelpfulField>;
  /** A tokenizer directory, a tokenizer.json path, or a loaded tokenizer. Optional only for `format: 'text'`. */
  tokenizer?: string | DertaTokenizer;
  variant: DertaVariant;
  mode: PrefixMode;
  seed: number;
  /** `paper`: upstream's literal `[INST] … [\INST]` format; `chat`: the tokenizer's (or a given) Jinja template. */
  template?: 'paper' | 'chat';
  /** Jinja source overriding the tokenizer's chat_template. */
  chatTemplate?: string;
  system?: string;
  /** Paper format EOS text; default `<|end_of_text|>` when the tokenizer has it, else its EOS token. */
  eosText?: string;
  sizes?: Partial<MixtureSizes>;
  /** Default DEFAULT_BLOCK_SIZE. */
  blockSize?: number;
  bos?: BosPolicy;
  /** Refusal target: an id or a vocabulary piece; default the piece `Sorry`. */
  refusalToken?: string | number;
  /** Keep about this fraction of RTO targets, resampled per epoch (full-FT trick; upstream 0.05). */
  rtoKeep?: number;
  /** Epochs to unroll when `rtoKeep` is set (default 2, the paper's). */
  epochs?: number;
  /** Leave out rows whose labels are all -100 after truncation (upstream keeps them). */
  dropEmpty?: boolean;
  /** Shuffle rows (seeded); upstream writes them in kind order and lets the Trainer shuffle. */
  shuffle?: boolean;
  format?: DertaFormat;
  /** Output directory; nothing is written when omitted. */
  out?: string;
  axolotl?: { baseModel?: string; preset?: 'lora' | 'full' };
  /** Keep rows in memory and return them (tests, small builds). */
  keepRows?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface DertaBuildResult {
  stats: Record<string, unknown>;
  files: string[];
  rows?: TokenizedRow[];
  textRows?: UpstreamTextRow[];
}

/**
 * Builds a DeRTa training set: reads the inputs, draws the mixture and harmful prefixes, renders each row
 * in the paper or chat format, tokenises and labels it exactly as upstream (with the RTO rewrite), and writes
 * the chosen format plus `stats.json`.
 */
export function buildDertaDataset(options: DertaBuildOptions): DertaBuildResult {
  const format = options.format ?? 'jsonl';
  const triples =
    typeof options.triples === 'string'
      ? loadTriples(options.triples, options.tripleFields)
      : options.triples;
  const helpful =
    options.helpful === undefined
      ? []
      : typeof options.helpful === 'string'
        ? loadHelpful(options.helpful, options.helpfulFields)
        : options.helpful;
  const tok = typeof options.tokenizer === 'string' ? loadTokenizer(options.tokenizer) : options.tokenizer;
  const templateName = options.template ?? 'paper';
  if (!tok && (format !== 'text' || options.mode === 'formal' || templateName === 'chat')) {
    throw new InputError(
      '--tokenizer is required (only the text format with --mode paper and --template paper works without one)',
    );
  }
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isInteger(blockSize) || blockSize < 1)
    throw new InputError('block size must be a positive integer');
  const rtoKeep = options.rtoKeep;
  if (rtoKeep !== undefined && !(rtoKeep > 0 && rtoKeep <= 1))
    throw new InputError('--rto-keep must be in (0, 1]');
  const epochs = rtoKeep === undefined ? 1 : (options.epochs ?? 2);

  const mixture = buildMixture(triples, helpful, {
    variant: options.variant,
    mode: options.mode,
    seed: options.seed,
    sizes: options.sizes,
    tokenizer: tok,
    resetToken: options.resetToken,
  });
  const examples = options.shuffle
    ? new Rng(`derta-shuffle:${options.seed}`).shuffle(mixture.examples)
    : mixture.examples;

  const fmt: PromptFormat =
    templateName === 'chat'
      ? chatFormat(tok as DertaTokenizer, { template: options.chatTemplate, system: options.system })
      : paperFormat(options.eosText ?? paperEosText(tok));
  const stats = new StatsCollector(options.mode === 'paper' ? 'words' : 'tokens');
  for (const ex of examples) {
    if (rowKind(ex.kind).format.harmfulPrefix) stats.addPrefixLength(ex.prefixLength ?? 0);
  }

  const header: Record<string, unknown> = {
    variant: options.variant,
    mode: options.mode,
    template: templateName,
    seed: options.seed,
    format,
    inputs: { triples: triples.length, helpful: helpful.length },
    sizes: mixture.sizes,
    available: mixture.available,
    skipped_short_responses: mixture.skippedShort,
    ...mixture.header,
  };

  let result: DertaBuildResult;
  if (format === 'text') {
    result = writeText(examples, fmt, stats, options);
  } else {
    const t = tok as DertaTokenizer;
    const refusalId = refusalTokenId(t, options.refusalToken);
    const bos = options.bos ?? 'auto';
    const labelOpts: LabelOptions = {
      tokenizer: t,
      addSpecialTokens: fmt.addSpecialTokens,
      bos,
      blockSize,
      refusalId,
    };
    Object.assign(header, {
      tokenizer: t.file,
      block_size: blockSize,
      bos,
      refusal_token_id: refusalId,
      refusal_token: t.decode([refusalId]),
      ...(rtoKeep !== undefined ? { rto_keep: rtoKeep, epochs_unrolled: epochs } : {}),
    });
    result = writeTokenised(examples, fmt, labelOpts, stats, { ...options, format, epochs });
  }
  const summary = { ...header, ...stats.summary(options.mode, format !== 'text'), files: result.files };
  if (options.out) {
    const statsFile = path.join(options.out, 'stats.json');
    writeFileAtomic(statsFile, `${JSON.stringify(summary, null, 2)}\n`);
    result.files.push(statsFile);
  }
  result.stats = summary;
  return result;
}

function writeTokenised(
  examples: TextExample[],
  fmt: PromptFormat,
  labelOpts: LabelOptions,
  stats: StatsCollector,
  options: DertaBuildOptions & { format: DertaFormat; epochs: number },
): DertaBuildResult {
  const sink = options.out ? rowSink(options.format, options.out, options, labelOpts.blockSize) : undefined;
  const rows: TokenizedRow[] | undefined = options.keepRows ? [] : undefined;
  const rtoRng = new Rng(`derta-rto-keep:${options.seed}`);
  const total = examples.length * options.epochs;
  let done = 0;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    for (const ex of examples) {
      const { prefix, text } = fmt.render(ex);
      const lr = labelRow(prefix, text, ex.kind, labelOpts);
      let labels = lr.labels;
      if (options.rtoKeep !== undefined && rowKind(ex.kind).label?.subsampled)
        labels = sampleRtoTargets(labels, options.rtoKeep, rtoRng);
      if (epoch === 0) {
        if (lr.truncated) stats.truncated++;
        if (lr.boundaryMismatch) stats.boundaryMismatch++;
      }
      const row: TokenizedRow = {
        input_ids: lr.input_ids,
        attention_mask: new Array<number>(lr.input_ids.length).fill(1),
        labels,
        kind: ex.kind,
        ...(options.rtoKeep !== undefined ? { epoch } : {}),
      };
      // Truncation loss is judged before RTO subsampling, which may leave a row without targets on purpose.
      const lostAll = lr.labels.every((l) => l === IGNORE);
      const keep = !(options.dropEmpty && lostAll);
      stats.addRow(ex.kind, labels, lr.input_ids.length, lostAll, keep);
      done++;
      if (options.onProgress && (done % 256 === 0 || done === total)) options.onProgress(done, total);
      if (!keep) continue;
      sink?.write(row);
      rows?.push(row);
    }
  }
  return { stats: {}, files: sink ? sink.close() : [], rows };
}

function writeText(
  examples: TextExample[],
  fmt: PromptFormat,
  stats: StatsCollector,
  options: DertaBuildOptions,
): DertaBuildResult {
  const sink = options.out ? textSink(options.out) : undefined;
  const textRows: UpstreamTextRow[] | undefined = options.keepRows ? [] : undefined;
  examples.forEach((ex, i) => {
    const { prefix, text } = fmt.render(ex);
    const row: UpstreamTextRow = { prefix, text, safe: rowKind(ex.kind).label?.textSafe ? 'true' : 'false' };
    stats.addRow(ex.kind);
    sink?.write(row);
    textRows?.push(row);
    if (options.onProgress && ((i + 1) % 256 === 0 || i + 1 === examples.length)) {
      options.onProgress(i + 1, examples.length);
    }
  });
  return { stats: {}, files: sink ? sink.close() : [], textRows };
}

function rowSink(format: DertaFormat, out: string, options: DertaBuildOptions, blockSize: number): RowSink {
  switch (format) {
    case 'parquet':
      return parquetSink(out);
    case 'axolotl':
      return axolotlSink(out, {
        baseModel: options.axolotl?.baseModel,
        preset: options.axolotl?.preset ?? 'lora',
        blockSize,
        epochsUnrolled: options.rtoKeep !== undefined ? (options.epochs ?? 2) : undefined,
      });
    default:
      return jsonlSink(out);
  }
}

export { DEFAULT_RESET_TOKEN } from './kinds/index.js';
