/**
 * Shared vocabulary of the DeRTa data builder (Decoupled Refusal Training, Yuan et al. 2024; see
 * ../shared/specs/derta.md). A build goes: input records → text examples (mixture.ts) → prompt/response
 * strings (format.ts) → token ids and labels (labels.ts) → files (export.ts).
 */

/** Which training mixture to build. */
export type DertaVariant = 'vanilla' | 'recaug' | 'derta' | 'rto' | 'backtrack';
export const DERTA_VARIANTS: readonly DertaVariant[] = ['vanilla', 'recaug', 'derta', 'rto', 'backtrack'];

/**
 * How the harmful-prefix length is drawn: `paper` copies upstream's generator (words, randint(1, n-2), every
 * third record empty); `formal` follows the paper's Eq. 2 (tokens, k uniform in [0, |r̂|]).
 */
export type PrefixMode = 'paper' | 'formal';
export const PREFIX_MODES: readonly PrefixMode[] = ['paper', 'formal'];

/**
 * The kind of a training row. `help`: helpfulness MLE; `vanilla`: harmful question → safe response;
 * `mle_prefix`: harmful question + harmful prefix → safe response; `rto`: harmful question + harmful response,
 * every response position labelled with the refusal token; `backtrack` (Zhang et al., ICLR 2025): harmful
 * question + harmful prefix (not trained) → the reset token, then the safe response.
 */
export type ExampleKind = 'help' | 'vanilla' | 'mle_prefix' | 'rto' | 'backtrack';
export const EXAMPLE_KINDS: readonly ExampleKind[] = ['help', 'vanilla', 'mle_prefix', 'rto', 'backtrack'];

/** Where an input record came from, so later errors and stats can point at it. */
export interface RecordOrigin {
  file: string;
  line: number;
}

/** One earlier turn of a multi-turn conversation (a multi-turn attack's failure). */
export interface ContextMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A harmful question with a harmful and a safe response (upstream: BeaverTails-based safety file). */
export interface SafetyTriple {
  instruction: string;
  /**
   * A multi-turn failure's conversation up to the harmful answer, ending with the user turn that got it (the
   * `messages` field of a triples file). The harmful and safe responses are the last assistant turn; only it is
   * trained, the turns before are prompt. Absent: the single turn `instruction`.
   */
  messages?: ContextMessage[];
  /** The harmful response r̂. */
  output: string;
  /** The safe response r. */
  safe_response: string;
  origin?: RecordOrigin;
}

/** An instruction with a helpful answer (upstream: uncensored Evol-Instruct / WizardLM). */
export interface HelpfulPair {
  instruction: string;
  output: string;
  origin?: RecordOrigin;
}

/** One training example before any chat format is applied. */
export interface TextExample {
  kind: ExampleKind;
  question: string;
  /** The conversation before the trained assistant turn (multi-turn triples); else [user: question]. */
  context?: ContextMessage[];
  /** Harmful prefix that sits at the start of the assistant turn; '' when there is none. */
  harmfulPrefix: string;
  /** Prefix length in its sampling unit (words in paper mode, tokens in formal mode); prefix rows only. */
  prefixLength?: number;
  /** The assistant content the row is trained on (for RTO rows: the harmful response, relabelled). */
  response: string;
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
