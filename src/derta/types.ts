/**
 * Shared vocabulary of the DeRTa data builder (Decoupled Refusal Training, Yuan et al. 2024; see
 * ../shared/specs/derta.md). A build goes: input records → text examples (mixture.ts) → prompt/response
 * strings (format.ts) → token ids and labels (labels.ts) → files (export.ts).
 */

import type { ExampleKind } from './kinds/index.js';
import type { RowDraft } from './kinds/kind.js';

export { DERTA_VARIANTS, EXAMPLE_KINDS, type DertaVariant, type ExampleKind } from './kinds/index.js';
export type { ContextMessage, HelpfulPair, RecordOrigin, SafetyTriple } from './records.js';

/**
 * How the harmful-prefix length is drawn: `paper` copies upstream's generator (words, randint(1, n-2), every
 * third record empty); `formal` follows the paper's Eq. 2 (tokens, k uniform in [0, |r̂|]).
 */
export type PrefixMode = 'paper' | 'formal';
export const PREFIX_MODES: readonly PrefixMode[] = ['paper', 'formal'];

/**
 * One training example before any chat format is applied: a row of one kind (kinds/: `help`, `vanilla`,
 * `mle_prefix`, `rto`, `backtrack`), as its kind drafted it.
 */
export interface TextExample extends RowDraft {
  kind: ExampleKind;
}

/** The upstream text format: loss on `text` only; `safe: "true"` marks an RTO row. */
export interface UpstreamTextRow {
  prefix: string;
  text: string;
  safe: 'true' | 'false';
}

/** One pretokenised row, as consumed by HF Trainer / TRL / `refusenik train`. */
export interface TokenizedRow {
  input_ids: number[];
  attention_mask: number[];
  labels: number[];
  kind: ExampleKind;
  /** Set when RTO targets were subsampled per epoch (`rtoKeep`); the file then unrolls the epochs. */
  epoch?: number;
}
