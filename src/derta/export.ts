import { AtomicFile, writeFileAtomic } from '../util/atomic-write.js';
import path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { stringify as toYaml } from 'yaml';
import { TRAINER_OPTIONS } from './trainer-options.js';
import type { TokenizedRow, UpstreamTextRow } from './types.js';

/**
 * Output formats. `jsonl` and `parquet` carry input_ids / attention_mask / labels / kind (usable as-is by HF
 * Trainer and TRL); `axolotl` is axolotl's pretokenised dataset (exactly those three columns, no `type:`)
 * plus a generated config; `text` is upstream's `{prefix, text, safe}` JSON lines.
 */
export type DertaFormat = 'jsonl' | 'parquet' | 'axolotl' | 'text';
export const DERTA_FORMATS: readonly DertaFormat[] = ['jsonl', 'parquet', 'axolotl', 'text'];

export interface RowSink {
  write(row: TokenizedRow): void;
  /** Finishes the files and returns their paths. */
  close(): string[];
}

export interface TextSink {
  write(row: UpstreamTextRow): void;
  close(): string[];
}

/** Buffered synchronous JSON-lines writer: simple, and fast enough that tokenising dominates (see bench). */
class JsonlWriter {
  private readonly out: AtomicFile;
  private buf: string[] = [];
  private size = 0;

  constructor(readonly file: string) {
    this.out = new AtomicFile(file);
  }

  write(value: unknown): void {
    const line = `${JSON.stringify(value)}\n`;
    this.buf.push(line);
    this.size += line.length;
    if (this.size > 1 << 20) this.flush();
  }

  flush(): void {
    if (this.buf.length) this.out.write(this.buf.join(''));
    this.buf = [];
    this.size = 0;
  }

  close(): void {
    this.flush();
    this.out.commit();
  }
}

export function jsonlSink(outDir: string): RowSink {
  const w = new JsonlWriter(path.join(outDir, 'train.jsonl'));
  return {
    write: (row) => w.write(row),
    close: () => (w.close(), [w.file]),
  };
}

export function textSink(outDir: string): TextSink {
  const w = new JsonlWriter(path.join(outDir, 'train.text.jsonl'));
  return {
    write: (row) => w.write(row),
    close: () => (w.close(), [w.file]),
  };
}

/** Parquet with list<int32> token columns; written at close (hyparquet-writer takes whole columns). */
export function parquetSink(outDir: string): RowSink {
  const file = path.join(outDir, 'train.parquet');
  const cols = { input_ids: [] as number[][], attention_mask: [] as number[][], labels: [] as number[][] };
  const kinds: string[] = [];
  const epochs: number[] = [];
  return {
    write(row) {
      cols.input_ids.push(row.input_ids);
      cols.attention_mask.push(row.attention_mask);
      cols.labels.push(row.labels);
      kinds.push(row.kind);
      if (row.epoch !== undefined) epochs.push(row.epoch);
    },
    close() {
      const withEpoch = epochs.length === kinds.length && kinds.length > 0;
      const listOfInt = (name: string) => [
        { name, repetition_type: 'REQUIRED' as const, num_children: 1, converted_type: 'LIST' as const },
        { name: 'list', repetition_type: 'REPEATED' as const, num_children: 1 },
        { name: 'element', repetition_type: 'REQUIRED' as const, type: 'INT32' as const },
      ];
      const schema = [
        { name: 'root', num_children: withEpoch ? 5 : 4 },
        ...listOfInt('input_ids'),
        ...listOfInt('attention_mask'),
        ...listOfInt('labels'),
        {
          name: 'kind',
          repetition_type: 'REQUIRED' as const,
          type: 'BYTE_ARRAY' as const,
          converted_type: 'UTF8' as const,
        },
        ...(withEpoch
          ? [{ name: 'epoch', repetition_type: 'REQUIRED' as const, type: 'INT32' as const }]
          : []),
      ];
      const buffer = parquetWriteBuffer({
        columnData: [
          { name: 'input_ids', data: cols.input_ids },
          { name: 'attention_mask', data: cols.attention_mask },
          { name: 'labels', data: cols.labels },
          { name: 'kind', data: kinds },
          ...(withEpoch ? [{ name: 'epoch', data: epochs }] : []),
        ],
        schema,
        createdBy: 'refusenik derta',
      });
      writeFileAtomic(file, new Uint8Array(buffer));
      return [file];
    },
  };
}

export interface AxolotlOptions {
  /** Written as `base_model`; the user must point it at the model the tokenizer belongs to. */
  baseModel?: string;
  blockSize: number;
  /** Paper presets, as the trainer has them (trainer/refusenik_trainer/presets.py): `lora` or `full`. */
  preset: keyof typeof TRAINER_OPTIONS.presets;
  /** Epochs already unrolled in the file (`--rto-keep`); the config then trains one pass over it. */
  epochsUnrolled?: number;
}

/** axolotl: rows with exactly input_ids / attention_mask / labels, and an axolotl.yaml that loads them. */
export function axolotlSink(outDir: string, opts: AxolotlOptions): RowSink {
  const w = new JsonlWriter(path.join(outDir, 'train.jsonl'));
  return {
    write: (row) =>
      w.write({ input_ids: row.input_ids, attention_mask: row.attention_mask, labels: row.labels }),
    close() {
      w.close();
      const configFile = path.join(outDir, 'axolotl.yaml');
      writeFileAtomic(configFile, axolotlConfig(path.resolve(w.file), opts));
      return [w.file, configFile];
    },
  };
}

/** axolotl.yaml's batch sizes assume this many GPUs (the paper's 8). */
const AXOLOTL_GPUS = 8;

export function axolotlConfig(datasetFile: string, opts: AxolotlOptions): string {
  const p = TRAINER_OPTIONS.presets[opts.preset];
  const common = {
    base_model: opts.baseModel ?? 'REPLACE_WITH_BASE_MODEL',
    // A pretokenised dataset: no `type:`, columns input_ids / attention_mask / labels.
    datasets: [{ path: datasetFile, ds_type: 'json', split: 'train' }],
    sequence_len: opts.blockSize,
    sample_packing: false,
    pad_to_sequence_len: false,
    num_epochs: opts.epochsUnrolled && opts.epochsUnrolled > 1 ? 1 : p.epochs,
    bf16: true,
    gradient_checkpointing: true,
    group_by_length: true,
    seed: 1,
    output_dir: './derta-out',
  };
  const preset = {
    ...(p.lora
      ? {
          adapter: 'lora',
          lora_r: p.lora_r,
          lora_alpha: p.lora_alpha,
          lora_dropout: p.lora_dropout,
          lora_target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
        }
      : {}),
    learning_rate: p.lr,
    lr_scheduler: p.scheduler,
    warmup_ratio: p.warmup_ratio,
    weight_decay: p.weight_decay,
    micro_batch_size: p.micro_batch_size,
    gradient_accumulation_steps: Math.max(1, p.global_batch_size / (p.micro_batch_size * AXOLOTL_GPUS)),
  };
  const header =
    '# Generated by `refusenik derta build --format axolotl`: DeRTa paper preset (' +
    `${opts.preset}); batch sizes assume ${AXOLOTL_GPUS} GPUs (global batch ${p.global_batch_size}).\n`;
  return header + toYaml({ ...common, ...preset });
}
