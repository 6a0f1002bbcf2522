import { InputError } from '../errors.js';
import type { Rng } from '../util/random.js';
import type { DertaTokenizer } from '../text/tokenizer.js';
import { rowKind, type ExampleKind } from './kinds/index.js';

/** The label value loss functions ignore (PyTorch CrossEntropyLoss's default ignore_index). */
export const IGNORE = -100;

/** BOS policy: follow the tokenizer/template (`auto`), or force one BOS at the start, or none. */
export type BosPolicy = 'auto' | 'always' | 'never';

export interface LabelOptions {
  tokenizer: DertaTokenizer;
  /** Run the tokenizer's post-processor (paper format) or not (chat templates write BOS themselves). */
  addSpecialTokens: boolean;
  bos: BosPolicy;
  /** Truncate to this many tokens, as HF `truncation=True, max_length=block_size`. */
  blockSize: number;
  /** Target id for every response position of RTO rows (kinds/rto.ts). */
  refusalId: number;
}

export interface LabelledRow {
  input_ids: number[];
  labels: number[];
  /** Tokens of the prefix alone (upstream's `plen`), after truncation. */
  promptLength: number;
  truncated: boolean;
  /**
   * The prefix alone tokenises differently from the start of prefix+text (a token spans the boundary).
   * Upstream masks `plen` positions anyway; we do the same and count these rows.
   */
  boundaryMismatch: boolean;
}

/**
 * Upstream's preprocess_function plus the RTO rewrite: ids = tok(prefix + text), plen = len(tok(prefix)),
 * labels[:plen] = -100, and for a kind with a label `target` (RTO: the refusal id) every remaining label (EOS
 * included) becomes that target.
 */
export function labelRow(prefix: string, text: string, kind: ExampleKind, opts: LabelOptions): LabelledRow {
  const tok = opts.tokenizer;
  const full = applyBos(tok.encode(prefix + text, opts.addSpecialTokens), opts.bos, tok);
  const pre = applyBos(tok.encode(prefix, opts.addSpecialTokens), opts.bos, tok);
  let boundaryMismatch = pre.length > full.length;
  for (let i = 0; !boundaryMismatch && i < pre.length; i++) if (pre[i] !== full[i]) boundaryMismatch = true;
  const truncated = full.length > opts.blockSize;
  const input_ids = truncated ? full.slice(0, opts.blockSize) : full;
  const promptLength = Math.min(pre.length, opts.blockSize);
  const labels = new Array<number>(input_ids.length);
  const target = rowKind(kind).label?.target?.(opts);
  for (let i = 0; i < input_ids.length; i++) {
    labels[i] = i < promptLength ? IGNORE : (target ?? (input_ids[i] as number));
  }
  return { input_ids, labels, promptLength, truncated, boundaryMismatch };
}

export function applyBos(ids: number[], policy: BosPolicy, tok: DertaTokenizer): number[] {
  if (policy === 'auto') return ids;
  if (tok.bosId === undefined) {
    if (policy === 'never') return ids;
    throw new InputError('this tokenizer has no BOS token; use --bos auto or never', { file: tok.file });
  }
  const has = ids[0] === tok.bosId;
  if (policy === 'always') return has ? ids : [tok.bosId, ...ids];
  return has ? ids.slice(1) : ids;
}

/**
 * The full-fine-tune "drop 95% of Sorry targets" trick as a data-side, per-epoch sample. Upstream keeps
 * max(1, ceil(L/20)) random positions of the whole padded row (prompt and padding included) in every forward
 * pass; here L is the unpadded row length and `fraction` replaces 1/20. Positions that land on the prompt keep
 * nothing, so on average about `fraction` of the response targets survive and some rows keep none.
 */
export function sampleRtoTargets(labels: readonly number[], fraction: number, rng: Rng): number[] {
  const keep = Math.max(1, Math.ceil(labels.length * fraction));
  const out = new Array<number>(labels.length).fill(IGNORE);
  for (const i of rng.sampleIndices(labels.length, keep)) out[i] = labels[i] as number;
  return out;
}
